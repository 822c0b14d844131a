// GoBGP paths as the daemon encodes them: the google.protobuf.Any NLRI and attributes, built
// with protobufjs from GoBGP's own .proto files (golang-github-osrg-gobgp-dev), decoded back
// with the same files. A missing package fails this test, it does not skip it.
import * as assert from 'uvu/assert';
import { encodePath, unpackAny, type AnyMessage } from '../../src/cluster/gobgp-api.js';
import { test } from '../support/suite.js';

function decoded(path: Record<string, unknown>) {
  return {
    nlri: unpackAny(path.nlri as AnyMessage),
    pattrs: (path.pattrs as AnyMessage[]).map(unpackAny),
  };
}

test('IPv4 VIP: /32 NLRI, ORIGIN IGP, NEXT_HOP, our large community; family ipv4 unicast', () => {
  const path = encodePath({ address: '198.18.0.10', family: 4, nextHop: '198.18.0.251', largeCommunities: [[4200000000, 1, 1]] });
  assert.equal(path.family, { afi: 'AFI_IP', safi: 'SAFI_UNICAST' });
  const { nlri, pattrs } = decoded(path);
  assert.equal(nlri, { type: 'apipb.IPAddressPrefix', value: { prefixLen: 32, prefix: '198.18.0.10' } });
  assert.equal(pattrs.map((p) => p.type), ['apipb.OriginAttribute', 'apipb.NextHopAttribute', 'apipb.LargeCommunitiesAttribute']);
  assert.equal(pattrs[0]!.value, { origin: 0 });
  assert.equal(pattrs[1]!.value, { nextHop: '198.18.0.251' });
  assert.equal(pattrs[2]!.value, { communities: [{ globalAdmin: 4200000000, localData1: 1, localData2: 1 }] });
});

test('IPv6 VIP: /128 NLRI, next hop and NLRI inside MP_REACH_NLRI (RFC 4760), no NEXT_HOP', () => {
  const path = encodePath({ address: '2001:db8:18::10', family: 6, nextHop: '2001:db8:18::251', largeCommunities: [] });
  assert.equal(path.family, { afi: 'AFI_IP6', safi: 'SAFI_UNICAST' });
  const { nlri, pattrs } = decoded(path);
  assert.equal(nlri.value, { prefixLen: 128, prefix: '2001:db8:18::10' });
  assert.equal(pattrs.map((p) => p.type), ['apipb.OriginAttribute', 'apipb.MpReachNLRIAttribute']);
  const reach = pattrs[1]!.value as { family: unknown; nextHops: string[]; nlris: AnyMessage[] };
  assert.equal(reach.family, { afi: 'AFI_IP6', safi: 'SAFI_UNICAST' });
  assert.equal(reach.nextHops, ['2001:db8:18::251']);
  assert.equal(reach.nlris.map(unpackAny).map((n) => n.value), [{ prefixLen: 128, prefix: '2001:db8:18::10' }]);
});

test.run();
