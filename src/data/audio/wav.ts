import { UserError } from "../../core/diagnostic.js";
import wavefile from "wavefile";

const { WaveFile } = wavefile;

/** Decodes WAV bytes to mono float samples in [-1, 1] (channels averaged) and the sample rate. */
export function decodeWav(
  bytes: Uint8Array,
  where: string,
): { samples: Float32Array; sampleRate: number } {
  let wav: InstanceType<typeof WaveFile>;
  try {
    wav = new WaveFile(bytes);
  } catch (e) {
    throw new UserError(`${where} is not a WAV file (${(e as Error).message})`);
  }
  const fmt = wav.fmt as { sampleRate: number; numChannels: number };
  // getSamples gives one array per channel for multi-channel files, a single array for mono.
  const raw = wav.getSamples(false, Float64Array) as unknown as Float64Array | Float64Array[];
  const channels = fmt.numChannels > 1 ? (raw as Float64Array[]) : [raw as Float64Array];
  // Integer PCM comes as integers; float formats ("32f", "64") are already in [-1, 1].
  const depth = String((wav as unknown as { bitDepth: string }).bitDepth);
  const full = depth === "32f" || depth === "64" ? 1 : 2 ** (Number(depth) - 1);
  const n = channels[0]!.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (const ch of channels) sum += ch[i]!;
    out[i] = sum / channels.length / full;
  }
  return { samples: out, sampleRate: fmt.sampleRate };
}

/** Linear-interpolation resampling (deterministic; adequate for speech features). */
export function resample(x: Float32Array, from: number, to: number): Float32Array {
  if (from === to) return x;
  const n = Math.max(1, Math.round((x.length * to) / from));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const pos = (i * from) / to;
    const j = Math.floor(pos);
    const f = pos - j;
    out[i] = (x[j] ?? 0) * (1 - f) + (x[j + 1] ?? x[j] ?? 0) * f;
  }
  return out;
}
