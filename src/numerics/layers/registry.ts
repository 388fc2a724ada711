import type { ParamsSpec } from "../../stages/schema.js";
import type { AnyLayer } from "./layer.js";

/**
 * Layers by the name a model block writes and by the TF.js class they build (how a layer of a
 * restored model is recognised). Names are data: looked up in maps, never on plain objects.
 */
export class LayerRegistry {
  private readonly byName: ReadonlyMap<string, AnyLayer>;
  private readonly byClass: ReadonlyMap<string, AnyLayer>;

  constructor(readonly all: readonly AnyLayer[]) {
    this.byName = new Map(all.map((l) => [l.name, l]));
    this.byClass = new Map(all.map((l) => [l.tfClass, l]));
    if (this.byName.size !== all.length || this.byClass.size !== all.length)
      throw new Error("two layers share a name or a TF.js class");
  }

  get(name: string): AnyLayer | undefined {
    return this.byName.get(name);
  }

  /** The declaration of a built TF.js layer, by its class name (`LSTM`). */
  ofClass(tfClass: string): AnyLayer | undefined {
    return this.byClass.get(tfClass);
  }

  /** Name -> parameters, for a block spec (an object without a prototype: `toString` is no layer). */
  params(): Record<string, ParamsSpec> {
    return Object.assign(
      Object.create(null) as Record<string, ParamsSpec>,
      Object.fromEntries(this.all.map((l) => [l.name, l.params])),
    );
  }

  /** These layers and more (a test's, a plugin's). */
  with(...more: AnyLayer[]): LayerRegistry {
    return new LayerRegistry([...this.all, ...more]);
  }
}
