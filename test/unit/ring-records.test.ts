// Each ring's records (engine/rings/): what one side writes, the other reads back, through a
// real ring.
import { describe, it, expect } from 'vitest';
import { Ring, Doorbell } from '../../native-free-io/ring.ts';
import { ReqKind, pushConnect, readConnect, pushRequest, requestFrame, requestEnqueuedAtMs, connIdOf, fourLetterWordTail, readFourLetterWord } from '../../engine/rings/request-ring.ts';
import { RespKind, SEND_HEADER_BYTES, writeSend, sendSentAtMs, sendFrameStart, replyConnIdOf, writeText, textBytes } from '../../engine/rings/reply-ring.ts';
import { LogKind, TXN_RECORD_HEADER_BYTES, writeTxnRecord, recordZxid, txnRecordBytes, writeResume } from '../../engine/rings/log-ring.ts';

function ring(): Ring {
  return Ring.create(1 << 16, Doorbell.create());
}

describe('ring records', () => {
  it('request ring: CONNECT with and without TLS, REQUEST, FOURLW with a trace mask', () => {
    const r = ring();
    const frame = Buffer.from('connect-request-body');
    expect(pushConnect(r, 7, '127.0.0.1', 40000, true, 'CN=zooid,O=tést', frame)).toBe(true);
    expect(pushConnect(r, 8, '::1', 1, false, null, frame)).toBe(true);
    expect(pushRequest(r, 9, 1_700_000_000_123.5, Buffer.from('xid-type-record'))).toBe(true);
    r.flushDataBell();
    expect(r.poll()).toBe(true);
    expect(r.kind).toBe(ReqKind.CONNECT);
    const c = readConnect(r);
    expect({ ...c, frame: c.frame.toString() }).toEqual({ connId: 7, addr: '127.0.0.1', port: 40000, tls: { x509Id: 'CN=zooid,O=tést' }, frame: 'connect-request-body' });
    r.release();
    expect(r.poll()).toBe(true);
    expect(readConnect(r).tls).toBeNull();
    r.release();
    expect(r.poll()).toBe(true);
    expect(r.kind).toBe(ReqKind.REQUEST);
    expect(connIdOf(r)).toBe(9);
    expect(requestEnqueuedAtMs(r)).toBe(1_700_000_000_123.5);
    expect(requestFrame(r).toString()).toBe('xid-type-record');
    r.release();
    const mask = Buffer.alloc(8);
    mask.writeBigInt64BE(-2n);
    const host = { dataDirSizeBytes: 457, logDirSizeBytes: 67_108_880, openFileDescriptors: 31, maxFileDescriptors: 1_048_576, firstLogZxid: -1 };
    const tail = fourLetterWordTail('10.0.0.1', 5000, 'stmk', host, mask);
    const rec = Buffer.alloc(4 + tail.length);
    rec.writeUInt32BE(11, 0);
    tail.copy(rec, 4);
    expect(r.tryPush(ReqKind.FOURLW, rec)).toBe(true);
    expect(r.poll()).toBe(true);
    expect(readFourLetterWord(r)).toEqual({ connId: 11, addr: '10.0.0.1', port: 5000, word: 'stmk', host, traceMask: -2n });
    r.release();
  });

  it('reply ring: SEND and TEXT; log ring: TXN and RESUME with zxids past 2^32', () => {
    const r = ring();
    const frame = Buffer.from('\u0000\u0000\u0000\u0004abcd');
    const at = r.reserve(SEND_HEADER_BYTES + frame.length);
    writeSend(r, at, 3, 42.25, frame);
    r.commit(RespKind.SEND, SEND_HEADER_BYTES + frame.length);
    const textAt = r.reserve(4 + 3 * 5);
    r.commit(RespKind.TEXT_CLOSE, writeText(r, textAt, 4, 'héllo'));
    expect(r.poll()).toBe(true);
    expect(replyConnIdOf(r)).toBe(3);
    expect(sendSentAtMs(r)).toBe(42.25);
    expect(r.data.subarray(sendFrameStart(r), r.payloadStart + r.payloadLength).equals(frame)).toBe(true);
    r.release();
    expect(r.poll()).toBe(true);
    expect(textBytes(r).toString('utf8')).toBe('héllo');
    r.release();

    const log = ring();
    const zxid = 0x5_0000_0007;
    const txn = Buffer.from('txn-header-and-record');
    writeTxnRecord(log, log.reserve(TXN_RECORD_HEADER_BYTES + txn.length), zxid, txn);
    log.commit(LogKind.TXN, TXN_RECORD_HEADER_BYTES + txn.length);
    writeResume(log, log.reserve(8), zxid + 1);
    log.commit(LogKind.RESUME, 8);
    expect(log.poll()).toBe(true);
    expect([recordZxid(log), txnRecordBytes(log).toString()]).toEqual([zxid, 'txn-header-and-record']);
    log.release();
    expect(log.poll()).toBe(true);
    expect(log.kind).toBe(LogKind.RESUME);
    expect(recordZxid(log)).toBe(zxid + 1);
  });
});
