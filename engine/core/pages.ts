// Where the tree's large buffers come from (the node store's pages, the data and name
// arenas' chunks): new ArrayBuffers, or, while a big snapshot loads, buffers another thread
// has already touched (engine/persistence/prefault.ts: the first write to each 4 KiB of a
// fresh buffer is a page fault: 0.15-0.45 s of system time in a 1M-znode load on the project's VM).
//
// A source hands out zero-filled buffers of the size asked for; the caller owns them.

export interface PageSource {
  take(bytes: number): ArrayBuffer | SharedArrayBuffer;
}

/** New, untouched ArrayBuffers (the kernel maps their pages at first write). */
export const FRESH_PAGES: PageSource = {
  take: (bytes) => new ArrayBuffer(bytes),
};
