// The checkpoint reader's directory listings, each read once and kept: the kind of every entry
// comes with its directory's listing, which saves an lstat (or a failed open) per file, and the
// search for stray temp files walks the same listings instead of reading meta/ twice.
import path from 'node:path';
import type * as v from 'valibot';
import { CheckpointCorruptError } from './errors.js';
import { article, EMPTY, listDir, readJsonFile, type Kind, type Listing } from './recover-fs.js';

export class Listings {
  readonly #listings = new Map<string, Listing>();

  /** The listing of `dir` if it has been read. */
  cached(dir: string): Listing | undefined {
    return this.#listings.get(dir);
  }

  /** The listing of `dir`, whose kind the caller has checked: read once, then kept. */
  list(dir: string): Listing {
    let listing = this.#listings.get(dir);
    if (!listing) {
      listing = listDir(dir);
      this.#listings.set(dir, listing);
    }
    return listing;
  }

  /** What is at `file`, from its directory's listing (no lstat of its own): undefined when nothing is. */
  kindAt(file: string): Kind | undefined {
    const cut = file.lastIndexOf(path.sep);
    return this.list(file.slice(0, cut)).get(file.slice(cut + 1));
  }

  /** The listing of directory `dir`: empty when it is absent, damage when it is something else. */
  listDir(dir: string): Listing {
    const kind = this.kindAt(dir);
    if (kind === undefined) return EMPTY;
    if (kind !== 'directory') throw new CheckpointCorruptError(dir, undefined, `expected a directory, found ${article(kind)}`);
    return this.list(dir);
  }

  /** readJsonFile, without opening a file its directory's listing says is not there. */
  async readJson<S extends v.GenericSchema>(file: string, schema: S, required: boolean): Promise<v.InferOutput<S> | undefined> {
    if (this.kindAt(file) === undefined) {
      if (required) throw new CheckpointCorruptError(file, undefined, 'missing (every such directory must hold it)');
      return undefined;
    }
    return readJsonFile(file, schema, required as false);
  }
}
