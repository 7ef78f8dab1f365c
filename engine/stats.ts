// Four-letter word answers that need the pipeline's state (filled in below from the
// pipeline; formatting lives in fourlw.ts).
import type { Pipeline } from './pipeline.ts';
import type { ServerConfig } from './config.ts';

export function fourLetterWordReply(word: string, p: Pipeline, _cfg: ServerConfig): string {
  return `${word}: zxid 0x${p.tree.lastZxid.toString(16)} nodes ${p.tree.nodeCount()}\n`;
}
