import FFT from "fft.js";

/**
 * Log-mel filterbank energies and MFCCs, in float64, in a fixed order of operations (the same numbers
 * on every machine): pre-emphasis 0.97, Hamming-windowed frames, power spectrum by FFT (fft.js), HTK
 * mel triangles, log(energy + 1e-10), then an orthonormal DCT-II for MFCCs.
 */
export interface FeatureConfig {
  sampleRate: number;
  frameMs: number;
  hopMs: number;
  mels: number;
  coefficients: number;
  type: "mfcc" | "logmel";
}

const melOf = (hz: number) => 2595 * Math.log10(1 + hz / 700);
const hzOf = (mel: number) => 700 * (10 ** (mel / 2595) - 1);

export class FeatureExtractor {
  private readonly frame: number;
  private readonly hop: number;
  private readonly size: number;
  private readonly fft: FFT;
  private readonly window: Float64Array;
  private readonly filters: { start: number; weights: Float64Array }[];
  private readonly dct?: Float64Array;
  readonly width: number;

  constructor(private readonly c: FeatureConfig) {
    this.frame = Math.round((c.sampleRate * c.frameMs) / 1000);
    this.hop = Math.round((c.sampleRate * c.hopMs) / 1000);
    this.size = 2 ** Math.ceil(Math.log2(this.frame));
    this.fft = new FFT(this.size);
    this.window = Float64Array.from(
      { length: this.frame },
      (_, i) => 0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (this.frame - 1)),
    );
    const bins = this.size / 2 + 1;
    const lo = melOf(0);
    const hi = melOf(c.sampleRate / 2);
    const points = Array.from({ length: c.mels + 2 }, (_, i) =>
      Math.floor(((this.size + 1) * hzOf(lo + ((hi - lo) * i) / (c.mels + 1))) / c.sampleRate),
    );
    this.filters = Array.from({ length: c.mels }, (_, m) => {
      const [a, b, e] = [points[m]!, points[m + 1]!, points[m + 2]!];
      const weights = new Float64Array(Math.max(0, Math.min(e, bins - 1) - a + 1));
      for (let k = a; k <= Math.min(e, bins - 1); k++)
        weights[k - a] = k < b ? (k - a) / Math.max(1, b - a) : (e - k) / Math.max(1, e - b);
      return { start: a, weights };
    });
    if (c.type === "mfcc") {
      const M = c.mels;
      this.dct = new Float64Array(c.coefficients * M);
      for (let k = 0; k < c.coefficients; k++) {
        const scale = k === 0 ? Math.sqrt(1 / M) : Math.sqrt(2 / M);
        for (let m = 0; m < M; m++)
          this.dct[k * M + m] = scale * Math.cos((Math.PI * k * (m + 0.5)) / M);
      }
    }
    this.width = c.type === "mfcc" ? c.coefficients : c.mels;
  }

  /** Frames x width features of one clip. */
  frames(x: Float32Array): Float64Array[] {
    const n = x.length < this.frame ? 1 : 1 + Math.floor((x.length - this.frame) / this.hop);
    const out: Float64Array[] = [];
    const input = new Float64Array(this.size);
    const spectrum = this.fft.createComplexArray() as number[];
    for (let f = 0; f < n; f++) {
      input.fill(0);
      const start = f * this.hop;
      for (let i = 0; i < this.frame; i++) {
        const s = x[start + i] ?? 0;
        const prev = start + i > 0 ? (x[start + i - 1] ?? 0) : 0;
        input[i] = (s - 0.97 * prev) * this.window[i]!;
      }
      this.fft.realTransform(spectrum, Array.from(input));
      this.fft.completeSpectrum(spectrum);
      const energies = new Float64Array(this.c.mels);
      this.filters.forEach((flt, m) => {
        let e = 0;
        for (let j = 0; j < flt.weights.length; j++) {
          const k = flt.start + j;
          const re = spectrum[2 * k]!;
          const im = spectrum[2 * k + 1]!;
          e += flt.weights[j]! * ((re * re + im * im) / this.size);
        }
        energies[m] = Math.log(e + 1e-10);
      });
      if (!this.dct) {
        out.push(energies);
        continue;
      }
      const ceps = new Float64Array(this.c.coefficients);
      for (let k = 0; k < this.c.coefficients; k++) {
        let v = 0;
        for (let m = 0; m < this.c.mels; m++) v += this.dct[k * this.c.mels + m]! * energies[m]!;
        ceps[k] = v;
      }
      out.push(ceps);
    }
    return out;
  }
}
