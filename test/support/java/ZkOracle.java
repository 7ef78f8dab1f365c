// Apache ZooKeeper 3.8's own code run on files zooid's tests made (test/support/zk-oracle.ts
// compiles and runs it against Debian's zookeeper.jar). It sits in ZooKeeper's quorum
// package to reach LearnerHandler.syncFollower, which is package-private.
//
//   truncate <logDir> <zxid hex>
//       FileTxnLog.truncate; prints "truncated true" or "error <message>".
//   sync <dataDir> <dataLogDir> <peer zxid hex>...
//       ZKDatabase.loadDataBase (the committed log is what the restore replayed), then for
//       each peer zxid a fresh LearnerHandler's syncFollower: one line per peer,
//       "<peer> <SNAP|-> fwd <startForwarding zxid> <type>:<zxid>[:<Adler32 of its data>] ..."
//       with the packets queued. The first line is "loaded <lastProcessed> <min> <max>".
package org.apache.zookeeper.server.quorum;

import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.Adler32;
import org.apache.zookeeper.server.Request;
import org.apache.zookeeper.server.ZKDatabase;
import org.apache.zookeeper.server.persistence.FileTxnLog;
import org.apache.zookeeper.server.persistence.FileTxnSnapLog;
import org.apache.zookeeper.server.quorum.auth.QuorumAuthServer;

public class ZkOracle {
    static String hex(long zxid) {
        return Long.toHexString(zxid);
    }

    static final class Master extends LearnerMaster {
        final ZKDatabase db;
        long forwardedFrom = -1;

        Master(ZKDatabase db) {
            this.db = db;
        }

        void addLearnerHandler(LearnerHandler h) {}
        void removeLearnerHandler(LearnerHandler h) {}
        void waitForEpochAck(long sid, StateSummary ss) {}
        void waitForStartup() {}
        long getEpochToPropose(long sid, long lastAcceptedEpoch) { return 0; }
        ZKDatabase getZKDatabase() { return db; }
        void waitForNewLeaderAck(long sid, long zxid) {}
        long getLastProposed() { return 0; }
        int getCurrentTick() { return 0; }
        int syncTimeout() { return 0; }
        int getTickOfNextAckDeadline() { return 0; }
        int getTickOfInitialAckDeadline() { return 0; }
        long getAndDecrementFollowerCounter() { return 0; }
        void processAck(long sid, long zxid, SocketAddress a) {}
        void touch(long sess, int to) {}
        void revalidateSession(QuorumPacket qp, LearnerHandler h) {}
        void submitLearnerRequest(Request si) {}
        long startForwarding(LearnerHandler h, long lastSeenZxid) {
            forwardedFrom = lastSeenZxid;
            return 0;
        }
        long getQuorumVerifierVersion() { return 0; }
        String getPeerInfo(long sid) { return ""; }
        byte[] getQuorumVerifierBytes() { return new byte[0]; }
        QuorumAuthServer getQuorumAuthServer() { return null; }
        void registerLearnerHandlerBean(LearnerHandler h, Socket s) {}
        void unregisterLearnerHandlerBean(LearnerHandler h) {}
    }

    static final class Handler extends LearnerHandler {
        final List<QuorumPacket> packets = new ArrayList<>();

        Handler(LearnerMaster m) throws IOException {
            super(new Socket(), new BufferedInputStream(new ByteArrayInputStream(new byte[0])), m);
        }

        @Override
        void queuePacket(QuorumPacket p) {
            packets.add(p);
        }

        @Override
        protected boolean shouldSendMarkerPacketForLogging() {
            return false;
        }
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("truncate")) {
            FileTxnLog log = new FileTxnLog(new File(args[1]));
            try {
                System.out.println("truncated " + log.truncate(Long.parseLong(args[2], 16)));
            } catch (IOException e) {
                System.out.println("error " + e.getMessage());
            }
            log.close();
            return;
        }
        if (args[0].equals("sync")) {
            FileTxnSnapLog snapLog = new FileTxnSnapLog(new File(args[2]), new File(args[1]));
            ZKDatabase db = new ZKDatabase(snapLog);
            db.loadDataBase();
            System.out.println("loaded " + hex(db.getDataTreeLastProcessedZxid()) + " " + hex(db.getminCommittedLog()) + " " + hex(db.getmaxCommittedLog()));
            for (int i = 3; i < args.length; i++) {
                Master m = new Master(db);
                Handler h = new Handler(m);
                boolean needSnap = h.syncFollower(Long.parseLong(args[i], 16), m);
                StringBuilder line = new StringBuilder(args[i]).append(needSnap ? " SNAP" : " -").append(" fwd ").append(hex(m.forwardedFrom));
                for (QuorumPacket p : h.packets) {
                    line.append(' ').append(p.getType()).append(':').append(hex(p.getZxid()));
                    if (p.getData() != null) {
                        Adler32 sum = new Adler32();
                        sum.update(p.getData());
                        line.append(':').append(Long.toHexString(sum.getValue()));
                    }
                }
                System.out.println(line);
            }
            snapLog.close();
            return;
        }
        throw new IllegalArgumentException("unknown command " + args[0]);
    }
}
