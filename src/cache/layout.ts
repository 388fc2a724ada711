import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { lockCache } from "./store.js";

/**
 * A reader of LMDB's page layout that checks the structure of a data.mdb without trusting it (plain
 * reads, never a memory map: a page number past the end of the file is a finding, not a SIGBUS).
 * `cache verify` reads the cache through LMDB read-only, which never reads the free-page table
 * (FREE_DBI) that every write transaction reads, nor the pages it does not visit: a damaged entry
 * there passed verify and then broke the next commit ("page N not found"), and a bad count in one
 * reads past the end of the map (SIGBUS). This walks every page the newest snapshot reaches.
 *
 * The layout is that of lmdb-js 3.5's bundled mdb.c (dependencies/lmdb/libraries/liblmdb), data
 * format 2, 64-bit page numbers, on a little-endian machine:
 *   page header (24 bytes)  pgno u64 @0, txnid u64 @8, pad u16 @16, flags u16 @18,
 *                           lower u16 @20 and upper u16 @22 (overflow pages: page count u32 @20)
 *   meta (pages 0, 1)       after the header: magic u32 @0, version u32 @4, address @8, mapsize @16,
 *                           FREE_DBI's MDB_db @24, MAIN_DBI's @72, last_pg u64 @120, txnid u64 @128
 *   MDB_db (48 bytes)       pad (page size in a meta) u32 @0, flags u16 @4, depth u16 @6,
 *                           branch/leaf/overflow page counts u64 @8/@16/@24, entries u64 @32, root @40
 *   node                    lo u16 @0, hi u16 @2, flags u16 @4, ksize u16 @6, key, then data;
 *                           in a branch lo|hi<<16|flags<<32 is the child's page number, in a leaf
 *                           lo|hi<<16 is the data size (F_BIGDATA: the data is the first page number
 *                           of an overflow run; F_SUBDATA: the data is a named table's MDB_db)
 *   free-page record        key: the txnid that freed them (u64); data: count n (u64), then n slots:
 *                           a page number, 0 (unused), or -k followed by the first page of k pages
 * The positions of the nodes (u16 each) follow the page header; they and lower/upper count from
 * the end of the header (PAGEBASE).
 */
export interface LayoutReport {
  /** What is wrong, most important first (at most MAX_PROBLEMS; `more` counts the rest). */
  problems: string[];
  more: number;
  /** Pages read, for tests and progress. */
  pagesRead: number;
}

const PAGEHDRSZ = 24;
const NODESIZE = 8;
const DB_SIZE = 48;
/** The bytes of a meta page read after its header (the meta record and some slack). */
const META_SIZE = 144;
const NUM_METAS = 2;
const MAGIC = 0xbeefc0de;
const DATA_VERSION = 2;
const P_INVALID = 0xffff_ffff_ffff_ffffn;

const P_BRANCH = 0x01;
const P_LEAF = 0x02;
const P_OVERFLOW = 0x04;
const P_META = 0x08;
const F_BIGDATA = 0x01;
const F_SUBDATA = 0x02;
/** MDB_db flags that change the key order or the leaves (none of the cache's tables uses them). */
const MDB_REVERSEKEY = 0x02;
const MDB_DUPSORT = 0x04;
const MDB_INTEGERKEY = 0x08;

const MAX_PROBLEMS = 20;
/** Trees deeper than this are damage (a billion-entry table is about 6 levels). */
const MAX_DEPTH = 64;

/** A field of one of LMDB's structures: its offset in the structure and its width in bytes. */
type Field = readonly [at: number, bytes: 2 | 4 | 8];
type Fields = Readonly<Record<string, Field>>;
/** A structure's fields as read: the 64-bit ones as bigint, narrower ones as number. */
type Struct<F extends Fields> = { -readonly [K in keyof F]: F[K][1] extends 8 ? bigint : number };

// The structures of the layout above, one table each: every field read below is named here.
const PAGE = {
  pgno: [0, 8],
  txnid: [8, 8],
  flags: [18, 2],
  lower: [20, 2],
  upper: [22, 2],
  overflowPages: [20, 4],
} as const satisfies Fields;
/** Counted from the end of the page header; the page size is FREE_DBI's pad. */
const META = {
  magic: [0, 4],
  version: [4, 4],
  psize: [24, 4],
  lastPg: [120, 8],
  txnid: [128, 8],
} as const satisfies Fields;
const META_FREE_DB = 24;
const META_MAIN_DB = 72;
const DB = {
  flags: [4, 2],
  depth: [6, 2],
  branchPages: [8, 8],
  leafPages: [16, 8],
  overflowPages: [24, 8],
  entries: [32, 8],
  root: [40, 8],
} as const satisfies Fields;
const NODE = { lo: [0, 2], hi: [2, 2], flags: [4, 2], ksize: [6, 2] } as const satisfies Fields;

/** One field of the structure at `base` in `buf`. */
function field(buf: Buffer, base: number, f: readonly [number, 8]): bigint;
function field(buf: Buffer, base: number, f: readonly [number, 2 | 4]): number;
function field(buf: Buffer, base: number, f: Field): number | bigint {
  return readField(buf, base, f);
}

function readField(buf: Buffer, base: number, [at, bytes]: Field): number | bigint {
  if (bytes === 8) return buf.readBigUInt64LE(base + at);
  return bytes === 4 ? buf.readUInt32LE(base + at) : buf.readUInt16LE(base + at);
}

/** Every field of the structure at `base` in `buf`, by name. */
function struct<F extends Fields>(buf: Buffer, base: number, fields: F): Struct<F> {
  return Object.fromEntries(
    Object.entries(fields).map(([name, f]) => [name, readField(buf, base, f)]),
  ) as Struct<F>;
}

type Db = Struct<typeof DB>;
type Node = Struct<typeof NODE> & { at: number };

interface Meta {
  psize: number;
  lastPg: bigint;
  txnid: bigint;
  free: Db;
  main: Db;
}

class Damage extends Error {}

/** The problems as one line, for `cache verify`. */
export function describeLayout(report: LayoutReport): string {
  const shown = report.problems.slice(0, 3);
  const rest = report.problems.length - shown.length + report.more;
  return `its pages are damaged: ${shown.join("; ")}${rest ? ` (and ${rest} more)` : ""}`;
}

/**
 * checkLayout of a cache that other processes may be writing. The walk reads the file with plain
 * reads, outside LMDB's reader table, so a commit during it (a page of the walked snapshot reused,
 * a meta page rewritten) looks like damage: `cache verify` beside a running pipeline sent healthy
 * caches to repair. What a walk finds is believed only when a second walk, holding the cache lock
 * that every commit takes, finds damage too; a healthy cache costs one walk, and no lock.
 */
export function checkLayoutOfLiveCache(dir: string): LayoutReport {
  const first = checkLayout(dir);
  if (first.problems.length === 0) return first;
  const release = lockCache(dir);
  try {
    return checkLayout(dir);
  } finally {
    release();
  }
}

/** Checks the structure of `<dir>/data.mdb`; a missing or empty file is a new cache (no problems). */
export function checkLayout(dir: string): LayoutReport {
  let fd: number;
  try {
    fd = openSync(join(dir, "data.mdb"), "r");
  } catch {
    return { problems: [], more: 0, pagesRead: 0 };
  }
  try {
    return new Walker(fd, fstatSync(fd).size).run();
  } finally {
    closeSync(fd);
  }
}

class Walker {
  private readonly problems: string[] = [];
  private more = 0;
  private pagesRead = 0;
  private psize = 0;
  private lastPg = 0n;
  private txnid = 0n;
  /** Every page in use or free, as [first, count, owner], to find pages used twice. */
  private readonly spans: [bigint, bigint, string][] = [];

  constructor(
    private readonly fd: number,
    private readonly fileSize: number,
  ) {}

  run(): LayoutReport {
    if (this.fileSize === 0) return this.report();
    try {
      const meta = this.newestMeta();
      this.psize = meta.psize;
      this.lastPg = meta.lastPg;
      this.txnid = meta.txnid;
      // Its flags hold the environment's; its keys are txnids in integer order.
      const free = { ...meta.free, flags: MDB_INTEGERKEY };
      this.walkTree("the free-page table", free, (key, data) => this.freeRecord(key, data));
      const named: [string, Db][] = [];
      this.walkTree("the main table", meta.main, (key, data, flags) => {
        // lmdb-js names tables with a trailing NUL.
        if (!(flags & F_SUBDATA)) return;
        const name = key.toString("latin1").replace(/\0$/, "");
        // LMDB copies a table's record whole over its own MDB_db: a longer one overwrites memory
        // (a flipped size crashed the next run, SIGSEGV).
        if (data.length !== DB_SIZE)
          throw new Damage(
            `the main table holds table ${JSON.stringify(name)}'s record in ${data.length} bytes, not ${DB_SIZE}`,
          );
        named.push([name, this.db(data, 0, key)]);
      });
      for (const [name, db] of named) this.walkTree(`table ${JSON.stringify(name)}`, db);
      this.pagesUsedTwice();
    } catch (e) {
      if (!(e instanceof Damage)) throw e;
      this.problem(e.message);
    }
    return this.report();
  }

  private report(): LayoutReport {
    return { problems: this.problems, more: this.more, pagesRead: this.pagesRead };
  }

  private problem(what: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(what);
    else this.more++;
  }

  /** The meta LMDB opens: page 0 must be a meta page; of the two, the newer (page 0 on a tie). */
  private newestMeta(): Meta {
    const head = this.read(0, PAGEHDRSZ + META_SIZE, "the first meta page");
    if (!(field(head, 0, PAGE.flags) & P_META)) throw new Damage("page 0 is not a meta page");
    if (field(head, PAGEHDRSZ, META.magic) !== MAGIC)
      throw new Damage("page 0 lacks LMDB's magic number");
    const version = field(head, PAGEHDRSZ, META.version) & 0xffff;
    if (version !== DATA_VERSION) throw new Damage(`the format version is ${version}, not 2`);
    const psize = field(head, PAGEHDRSZ, META.psize);
    if (psize < 512 || psize > 65536 || (psize & (psize - 1)) !== 0)
      throw new Damage(`the page size in page 0 is ${psize}`);
    const first = this.meta(head, psize);
    const second =
      this.fileSize >= psize + PAGEHDRSZ + META_SIZE
        ? this.meta(this.read(psize, PAGEHDRSZ + META_SIZE, "the second meta page"), psize)
        : undefined;
    const newest = second && second.txnid > first.txnid ? second : first;
    if (newest.lastPg < BigInt(NUM_METAS - 1))
      throw new Damage(`the meta page names last page ${newest.lastPg}`);
    this.checkFlushedMeta(newest, psize);
    return newest;
  }

  /**
   * lmdb-js's overlapping sync keeps a third meta in the second half of page 0: the last one known
   * to be on disk. An open for writing reads it with the two meta pages and goes by the highest
   * transaction id (read-only opens, as verify's scan, read only the two): one naming a transaction
   * newer than both meta pages sent the next write to pages that are not there ("page 14 not found",
   * found by the stress suite's byte flips). Written after its transaction's meta page, it can name
   * that transaction or an older one, never a newer.
   */
  private checkFlushedMeta(newest: Meta, psize: number): void {
    const at = psize / 2;
    if (this.fileSize < at + PAGEHDRSZ + META_SIZE) return;
    const flushed = field(
      this.read(at, PAGEHDRSZ + META_SIZE, "the flushed meta"),
      PAGEHDRSZ,
      META.txnid,
    );
    if (flushed > newest.txnid)
      throw new Damage(
        `the flushed meta (page 0, byte ${at}) names transaction ${flushed}, newer than the newest meta page's ${newest.txnid}`,
      );
  }

  private meta(page: Buffer, psize: number): Meta {
    return {
      psize,
      free: this.db(page, PAGEHDRSZ + META_FREE_DB),
      main: this.db(page, PAGEHDRSZ + META_MAIN_DB),
      lastPg: field(page, PAGEHDRSZ, META.lastPg),
      txnid: field(page, PAGEHDRSZ, META.txnid),
    };
  }

  private db(buf: Buffer, at: number, name?: Buffer): Db {
    if (buf.length < at + DB_SIZE)
      throw new Damage(
        `the record of table ${JSON.stringify(name?.toString("latin1"))} is ${buf.length - at} bytes, not ${DB_SIZE}`,
      );
    return struct(buf, at, DB);
  }

  /**
   * Walks one B+ tree from its root, checking every page and node, and its counts against its
   * record; `onLeaf` sees each leaf node's key and data (overflow data read in full).
   */
  private walkTree(
    what: string,
    db: Db,
    onLeaf?: (key: Buffer, data: Buffer, flags: number) => void,
  ): void {
    if (db.root === P_INVALID) {
      if (db.depth !== 0 || db.entries !== 0n)
        this.problem(
          `${what} is empty but its record says depth ${db.depth}, ${db.entries} entries`,
        );
      return;
    }
    if (db.flags & MDB_DUPSORT) {
      this.problem(`${what} has sorted duplicates, which no table of the cache uses`);
      return;
    }
    if (db.depth < 1 || db.depth > MAX_DEPTH) {
      this.problem(`${what} has depth ${db.depth}`);
      return;
    }
    const counts = { branch: 0n, leaf: 0n, overflow: 0n, entries: 0n };
    const stack: { pgno: bigint; level: number; from: string }[] = [
      { pgno: db.root, level: 0, from: "its root" },
    ];
    while (stack.length) {
      const { pgno, level, from } = stack.pop()!;
      try {
        const page = this.page(pgno, `${what} (${from})`);
        const leaf = level === db.depth - 1;
        const flags = field(page, 0, PAGE.flags);
        const want = leaf ? P_LEAF : P_BRANCH;
        if ((flags & (P_BRANCH | P_LEAF | P_OVERFLOW | P_META | 0x20 | 0x40)) !== want)
          throw new Damage(
            `${what}: page ${pgno} at level ${level + 1} of ${db.depth} has flags 0x${flags.toString(16)}, not a ${leaf ? "leaf" : "branch"} page`,
          );
        this.spans.push([pgno, 1n, what]);
        if (leaf) counts.leaf++;
        else counts.branch++;
        const nodes = this.nodes(page, pgno, what);
        if (!leaf) {
          for (const n of nodes)
            stack.push({
              pgno: BigInt(n.lo | (n.hi << 16)) | (BigInt(n.flags) << 32n),
              level: level + 1,
              from: `a branch of page ${pgno}`,
            });
          continue;
        }
        this.checkOrder(page, nodes, db, pgno, what);
        for (const n of nodes) {
          counts.entries++;
          const key = page.subarray(n.at + NODESIZE, n.at + NODESIZE + n.ksize);
          const data = this.leafData(page, pgno, n, what, counts);
          if (data && onLeaf) onLeaf(key, data, n.flags);
        }
      } catch (e) {
        if (!(e instanceof Damage)) throw e;
        this.problem(e.message);
        return; // the counts of a tree that could not be walked mean nothing
      }
    }
    const says = (n: bigint, found: bigint, of: string) => {
      if (n !== found) this.problem(`${what}: its record says ${n} ${of}, its tree holds ${found}`);
    };
    says(db.entries, counts.entries, "entries");
    says(db.branchPages, counts.branch, "branch pages");
    says(db.leafPages, counts.leaf, "leaf pages");
    says(db.overflowPages, counts.overflow, "overflow pages");
  }

  /** A page of a tree, read after checking that it is one: inside the snapshot and the file. */
  private page(pgno: bigint, what: string): Buffer {
    this.checkSpan(pgno, 1n, what);
    const page = this.read(Number(pgno) * this.psize, this.psize, `page ${pgno}`);
    this.pagesRead++;
    const own = field(page, 0, PAGE.pgno);
    if (own !== pgno) throw new Damage(`${what}: page ${pgno} says it is page ${own}`);
    this.checkWriter(page, pgno, what);
    return page;
  }

  /**
   * A page of the snapshot was written by a transaction of it: LMDB lets a write transaction change
   * in place a page whose transaction id is its own or later (a page it made), so a clean page
   * claiming a later one is written through the read-only map: the process dies (SIGSEGV; found by
   * the stress suite's byte flips in a page header).
   */
  private checkWriter(page: Buffer, pgno: bigint, what: string): void {
    const writer = field(page, 0, PAGE.txnid);
    if (writer > this.txnid)
      throw new Damage(
        `${what}: page ${pgno} says transaction ${writer} wrote it, after the snapshot's ${this.txnid}`,
      );
  }

  /** Pages [pgno, pgno + count) are data pages of this snapshot, all inside the file. */
  private checkSpan(pgno: bigint, count: bigint, what: string): void {
    if (pgno < BigInt(NUM_METAS)) throw new Damage(`${what} points to page ${pgno}, a meta page`);
    if (pgno + count - 1n > this.lastPg)
      throw new Damage(
        `${what} points to page ${pgno + count - 1n}, past the last page of the snapshot (${this.lastPg})`,
      );
    if ((pgno + count) * BigInt(this.psize) > BigInt(this.fileSize))
      throw new Damage(
        `${what} points to page ${pgno + count - 1n}, past the end of the file (${this.fileSize} bytes, ${this.fileSize / this.psize} pages)`,
      );
  }

  /** The nodes of a branch or leaf page, each inside the page (positions, headers, keys). */
  private nodes(page: Buffer, pgno: bigint, what: string): Node[] {
    const lower = field(page, 0, PAGE.lower);
    const upper = field(page, 0, PAGE.upper);
    const room = this.psize - PAGEHDRSZ;
    if (lower % 2 !== 0 || lower > upper || upper > room)
      throw new Damage(`${what}: page ${pgno} has free space bounds ${lower}..${upper}`);
    const count = lower / 2;
    if (count === 0) throw new Damage(`${what}: page ${pgno} holds no entries`);
    const nodes: Node[] = [];
    for (let i = 0; i < count; i++) {
      const at = page.readUInt16LE(PAGEHDRSZ + 2 * i) + PAGEHDRSZ;
      if (at < PAGEHDRSZ + upper || at + NODESIZE > this.psize)
        throw new Damage(`${what}: entry ${i} of page ${pgno} is at ${at}, outside its nodes`);
      const node = { at, ...struct(page, at, NODE) };
      if (at + NODESIZE + node.ksize > this.psize)
        throw new Damage(`${what}: the key of entry ${i} of page ${pgno} runs past the page`);
      nodes.push(node);
    }
    return nodes;
  }

  /** Keys of a leaf in ascending order (LMDB's binary search misses anything out of order). */
  private checkOrder(
    page: Buffer,
    nodes: { at: number; ksize: number }[],
    db: Db,
    pgno: bigint,
    what: string,
  ): void {
    if (db.flags & MDB_REVERSEKEY) return;
    const key = (n: { at: number; ksize: number }) =>
      page.subarray(n.at + NODESIZE, n.at + NODESIZE + n.ksize);
    for (let i = 1; i < nodes.length; i++) {
      const a = key(nodes[i - 1]!);
      const b = key(nodes[i]!);
      const ordered =
        db.flags & MDB_INTEGERKEY && a.length === 8 && b.length === 8
          ? a.readBigUInt64LE(0) < b.readBigUInt64LE(0)
          : Buffer.compare(a, b) < 0;
      if (!ordered) throw new Damage(`${what}: the keys of page ${pgno} are out of order at ${i}`);
    }
  }

  /** A leaf node's data: inline, a named table's record, or read from its overflow pages. */
  private leafData(
    page: Buffer,
    pgno: bigint,
    n: Node,
    what: string,
    counts: { overflow: bigint },
  ): Buffer | undefined {
    if (n.flags & ~(F_BIGDATA | F_SUBDATA))
      throw new Damage(`${what}: an entry of page ${pgno} has flags 0x${n.flags.toString(16)}`);
    const size = n.lo | (n.hi << 16);
    const start = n.at + NODESIZE + n.ksize;
    if (!(n.flags & F_BIGDATA)) {
      if (start + size > this.psize)
        throw new Damage(`${what}: an entry of page ${pgno} holds ${size} bytes, past the page`);
      return page.subarray(start, start + size);
    }
    if (start + 8 > this.psize)
      throw new Damage(`${what}: an entry of page ${pgno} has no room for its overflow page`);
    const first = page.readBigUInt64LE(start);
    const needed = BigInt(Math.floor((PAGEHDRSZ - 1 + size) / this.psize) + 1);
    const where = `${what} (a value of page ${pgno})`;
    this.checkSpan(first, needed, where);
    const head = this.read(Number(first) * this.psize, PAGEHDRSZ, `page ${first}`);
    this.pagesRead++;
    const own = field(head, 0, PAGE.pgno);
    if (own !== first) throw new Damage(`${where}: overflow page ${first} says it is page ${own}`);
    this.checkWriter(head, first, where);
    if (!(field(head, 0, PAGE.flags) & P_OVERFLOW))
      throw new Damage(`${where}: page ${first} is not an overflow page`);
    const pages = BigInt(field(head, 0, PAGE.overflowPages));
    if (pages < needed)
      throw new Damage(
        `${where}: overflow page ${first} says it starts ${pages} pages, a value of ${size} bytes needs ${needed}`,
      );
    this.checkSpan(first, pages, where);
    this.spans.push([first, pages, what]);
    counts.overflow += pages;
    // Only the free-page table's values are read here (the cache's own values are read by LMDB).
    return what === "the free-page table"
      ? this.read(Number(first) * this.psize + PAGEHDRSZ, size, `page ${first}`)
      : undefined;
  }

  /** A free-page record: its txnid inside the history, its list inside its value and the snapshot. */
  private freeRecord(key: Buffer, data: Buffer): void {
    const what = "the free-page table";
    if (key.length !== 8) throw new Damage(`${what} has a key of ${key.length} bytes, not 8`);
    const txn = key.readBigUInt64LE(0);
    if (txn === 0n || txn > this.txnid)
      throw new Damage(`${what} has a record of transaction ${txn} (the last is ${this.txnid})`);
    if (data.length < 8) throw new Damage(`${what}: the record of ${txn} has no count`);
    const n = data.readBigUInt64LE(0);
    if ((n + 1n) * 8n > BigInt(data.length))
      throw new Damage(
        `${what}: the record of transaction ${txn} counts ${n} pages in ${data.length} bytes`,
      );
    const where = `${what} (the record of transaction ${txn})`;
    for (let i = 1; i <= Number(n); i++) {
      const v = data.readBigInt64LE(8 * i);
      if (v === 0n) continue;
      let count = 1n;
      let first = v;
      if (v < 0n) {
        if (i === Number(n)) throw new Damage(`${where} ends inside a run of pages`);
        count = -v;
        first = data.readBigInt64LE(8 * ++i);
      }
      if (first < BigInt(NUM_METAS) || first + count - 1n > this.lastPg)
        throw new Damage(
          `${where} lists page ${first < BigInt(NUM_METAS) ? first : first + count - 1n}, outside the snapshot's pages 2..${this.lastPg}`,
        );
      this.spans.push([first, count, "the free-page table"]);
    }
  }

  /** A page in two trees, or in a tree and the free list, will be overwritten while still in use. */
  private pagesUsedTwice(): void {
    const spans = [...this.spans].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (let i = 1; i < spans.length; i++) {
      const [prevFirst, prevCount, prevOwner] = spans[i - 1]!;
      const [first, , owner] = spans[i]!;
      if (first < prevFirst + prevCount)
        this.problem(`page ${first} is used twice: by ${prevOwner} and by ${owner}`);
    }
  }

  /** `length` bytes at `offset`, all of them there (a short read is damage: the file ends early). */
  private read(offset: number, length: number, what: string): Buffer {
    if (offset + length > this.fileSize)
      throw new Damage(`${what} lies past the end of the file (${this.fileSize} bytes)`);
    const buf = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const n = readSync(this.fd, buf, got, length - got, offset + got);
      if (n === 0) throw new Damage(`${what} lies past the end of the file`);
      got += n;
    }
    return buf;
  }
}
