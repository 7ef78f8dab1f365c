// Startup recovery: repair a torn log tail, then replay every txn into the pipeline's
// tree and sessions. (Snapshots come with the persistence issue; until then the whole
// log is replayed.)
import { recoverTxnLogs, readTxnLog } from './persistence/txnlog.ts';
import type { Pipeline } from './pipeline.ts';

export function recoverState(pipeline: Pipeline, logDir: string, txnBytesMax: number, warn: (msg: string) => void): { txnCount: number } {
  const { warnings } = recoverTxnLogs(logDir, { txnBytesMax });
  for (const w of warnings) warn(w);
  let txnCount = 0;
  for (const entry of readTxnLog(logDir, pipeline.tree.lastZxid, { txnBytesMax, onWarning: warn })) {
    pipeline.replay(entry.bytes);
    txnCount++;
  }
  pipeline.recovered();
  return { txnCount };
}
