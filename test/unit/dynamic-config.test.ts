// The texts of dynamic reconfiguration, checked against what Apache ZooKeeper 3.8 wrote and
// printed for the same input (captured from a three-server ensemble with reconfigEnabled=true):
// QuorumMaj.toString, writeDynamicConfig, editStaticConfig (java.util.Properties' order) and
// the key order zkCli's `config -c` shows (ConfigUtils.getClientConfigStr iterates a Properties).
import { describe, expect, it } from 'vitest';
import { ConfigTextError, configText, dynamicFileText, javaLongMapOrder, javaPropertiesOrder, parseConfigText, staticConfigText } from '../../engine/quorum/dynamic-config.ts';

const CONFIG = [
  'server.1=127.0.0.1:33989:37027:participant;127.0.0.1:43467',
  'server.2=127.0.0.1:46833:39441:participant;127.0.0.1:42927',
  'server.3=127.0.0.1:38203:41185:participant;127.0.0.1:44079',
  'version=100000000',
].join('\n');

// zoo.cfg as written, then as ZooKeeper rewrote it once version 100000000 was activated
const ZOO_CFG = [
  'tickTime=1000', 'initLimit=5', 'syncLimit=2', 'dataDir=/tmp/zk/data', 'clientPort=43467', 'clientPortAddress=127.0.0.1',
  'admin.enableServer=false', '4lw.commands.whitelist=*', 'server.1=127.0.0.1:33989:37027;127.0.0.1:43467',
  'server.2=127.0.0.1:46833:39441;127.0.0.1:42927', 'server.3=127.0.0.1:38203:41185;127.0.0.1:44079', 'reconfigEnabled=true', 'skipACL=yes', '',
].join('\n');
const REWRITTEN = [
  'dataDir=/tmp/zk/data', '4lw.commands.whitelist=*', 'syncLimit=2', 'reconfigEnabled=true', 'admin.enableServer=false', 'skipACL=yes',
  'initLimit=5', 'tickTime=1000', 'dynamicConfigFile=/tmp/zk/zoo.cfg.dynamic.100000000', '',
].join('\n');

describe('dynamic config texts', () => {
  it('QuorumMaj.toString: parsed and printed back byte for byte', () => {
    expect(configText(parseConfigText(CONFIG))).toBe(CONFIG);
  });

  it('orders members as a HashMap<Long> does (bins, not ascending ids)', () => {
    expect(javaLongMapOrder([2, 17, 1])).toEqual([1, 17, 2]);
    expect(javaLongMapOrder([3, 1, 2])).toEqual([1, 2, 3]);
  });

  it('writeDynamicConfig: sorted lines, no version, no final newline', () => {
    expect(dynamicFileText(parseConfigText(CONFIG), false)).toBe(CONFIG.split('\n').slice(0, 3).join('\n'));
    expect(dynamicFileText(parseConfigText(CONFIG), true)).toBe(CONFIG);
  });

  it('editStaticConfig: zoo.cfg in Properties order without the server and client lines, then dynamicConfigFile', () => {
    expect(staticConfigText(ZOO_CFG, '/tmp/zk/zoo.cfg.dynamic.100000000', true)).toBe(REWRITTEN);
  });

  it('reads members separated by commas; the last line of an id wins; a bad line is a ConfigTextError', () => {
    const c = parseConfigText('server.1=h:1:2;3,server.2=h:4:5:observer;6,server.1=h:7:8;9');
    expect([...c.members.keys()]).toEqual([2, 1]);
    expect(c.members.get(1)?.quorumPort).toBe(7);
    expect(c.members.get(2)?.role).toBe('observer');
    expect(() => parseConfigText('server.1=h:1')).toThrow(ConfigTextError);
    expect(() => parseConfigText('server.x=h:1:2')).toThrow(ConfigTextError);
    expect(() => parseConfigText('bogus=1')).toThrow(ConfigTextError);
  });

  it('Properties order of a config\'s keys: zkCli\'s config -c printed server.2, server.1, server.3', () => {
    expect(javaPropertiesOrder(['server.1', 'server.2', 'server.3', 'version']).filter((k) => k.startsWith('server.'))).toEqual(['server.2', 'server.1', 'server.3']);
  });
});
