// ip.ts against the behaviour of Go's net.ParseIP / net.ParseCIDR / IP.String, which the
// reference plugins use: users compare our addresses with theirs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  contains,
  formatIP,
  formatPrefix,
  lastAddress,
  maskToLength,
  networkOf,
  parseIP,
  parsePrefix,
} from "../../src/net/ip.ts";

function ip(text: string) {
  const parsed = parseIP(text);
  assert.ok(parsed, `test setup: ${text} should parse`);
  return parsed;
}
function prefix(text: string) {
  const parsed = parsePrefix(text);
  assert.ok(parsed, `test setup: ${text} should parse`);
  return parsed;
}

describe("parseIP() and formatIP() print addresses as Go does", () => {
  const valid: [string, string, 4 | 6][] = [
    ["0.0.0.0", "0.0.0.0", 4],
    ["255.255.255.255", "255.255.255.255", 4],
    ["192.168.1.1", "192.168.1.1", 4],
    ["::", "::", 6],
    ["::1", "::1", 6],
    ["2001:DB8::1", "2001:db8::1", 6],
    ["2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1", 6],
    ["1:0:0:0:0:0:0:0", "1::", 6],
    ["0:0:0:0:0:0:0:1", "::1", 6],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8", 6],
    // A single zero group is not shortened to "::" (RFC 5952 4.2.2).
    ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7", 6],
    // The first of two equally long zero runs is shortened (RFC 5952 4.2.3).
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", 6],
    ["fe80:0:0:0:1:0:0:0", "fe80::1:0:0:0", 6],
    // The longest zero run is shortened, not the first.
    ["0:0:1:0:0:0:0:1", "0:0:1::1", 6],
    // "::" may stand for a single group, at either end.
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0", 6],
    ["::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8", 6],
    ["1:2:3:4:5:6::8", "1:2:3:4:5:6:0:8", 6],
    // An IPv4-mapped address is that IPv4 address (Go's To4()).
    ["::ffff:192.0.2.1", "192.0.2.1", 4],
    ["::FFFF:c000:0201", "192.0.2.1", 4],
    // Other embedded IPv4 forms stay IPv6 and print in hex.
    ["::192.0.2.1", "::c000:201", 6],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221", 6],
    ["1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304", 6],
  ];
  for (const [text, printed, family] of valid) {
    it(`reads ${text} as IPv${family} ${printed}`, () => {
      const parsed = ip(text);
      assert.equal(parsed.family, family);
      assert.equal(formatIP(parsed), printed);
    });
  }

  const invalid: [string, string][] = [
    ["", "the empty string"],
    ["1.2.3", "three IPv4 fields"],
    ["1.2.3.4.5", "five IPv4 fields"],
    ["256.0.0.1", "a field above 255"],
    ["01.2.3.4", "a leading zero (octal or decimal?)"],
    ["1.2.3.04", "a leading zero in the last field"],
    ["1.2.3.-1", "a negative field"],
    ["0x1.2.3.4", "a hex field"],
    [" 1.2.3.4", "leading white space"],
    ["1.2.3.4 ", "trailing white space"],
    ["1.2.3.4/24", "a prefix length"],
    ["fe80::1%eth0", "a zone id"],
    ["[::1]", "brackets"],
    ["1::2::3", "two '::'"],
    [":::", "three colons"],
    ["1:2:3:4:5:6:7:8:9", "nine groups"],
    ["1:2:3:4:5:6:7:8::", "'::' standing for no group"],
    ["12345::", "a group of five digits"],
    ["g::1", "a non-hex group"],
    [":1::", "a leading single colon"],
    ["1::2:", "a trailing single colon"],
    ["::ffff:1.2.3.04", "a leading zero in embedded IPv4"],
    ["::ffff:256.1.1.1", "an embedded IPv4 field above 255"],
    ["1:2:3:4:5:6:7:1.2.3.4", "embedded IPv4 making nine groups"],
    ["1.2.3.4::", "IPv4 before '::'"],
    ["::1.2.3", "a short embedded IPv4"],
    [":1.2.3.4", "IPv4 after a single colon"],
    ["fe80::\u0010", "a control character in a group (not a hex digit, whatever its case fold)"],
    ["\u0011::1", "a control character leading a group"],
  ];
  for (const [text, why] of invalid) {
    it(`rejects ${JSON.stringify(text)}: ${why}`, () => {
      assert.equal(parseIP(text), undefined);
    });
  }
});

describe("parsePrefix() reads CIDR as Go's ParseCIDR does", () => {
  const valid: [string, string, number, 4 | 6][] = [
    ["10.1.2.3/24", "10.1.2.3/24", 24, 4],
    ["0.0.0.0/0", "0.0.0.0/0", 0, 4],
    ["10.1.2.3/32", "10.1.2.3/32", 32, 4],
    ["2001:DB8::1/64", "2001:db8::1/64", 64, 6],
    ["::/0", "::/0", 0, 6],
    ["::1/128", "::1/128", 128, 6],
    // Go reads the length with plain digits, leading zeros allowed.
    ["10.0.0.0/024", "10.0.0.0/24", 24, 4],
    // An IPv4-mapped prefix keeps its 128-bit form, as in Go.
    ["::ffff:10.0.0.1/120", "::ffff:a00:1/120", 120, 6],
  ];
  for (const [text, printed, length, family] of valid) {
    it(`reads ${text} as /${length} of IPv${family}, host bits kept`, () => {
      const p = prefix(text);
      assert.equal(p.length, length);
      assert.equal(p.ip.family, family);
      assert.equal(formatPrefix(p), printed);
    });
  }
  const invalid = [
    "10.0.0.0",
    "10.0.0.0/",
    "10.0.0.0/33",
    "::/129",
    "10.0.0.0/-1",
    "10.0.0.0/+8",
    "10.0.0.0/8/8",
    "10.0.0.0/ 8",
    "01.0.0.0/8",
    "fe80::1%eth0/64",
    "/24",
    "10.0.0.0/255.255.255.0",
  ];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(parsePrefix(text), undefined);
    });
  }
});

describe("networkOf() clears host bits", () => {
  const cases: [string, string][] = [
    ["192.168.1.5/24", "192.168.1.0/24"],
    ["10.1.2.3/0", "0.0.0.0/0"],
    ["10.1.2.3/32", "10.1.2.3/32"],
    ["10.1.2.3/31", "10.1.2.2/31"],
    ["2001:db8::1:2/112", "2001:db8::1:0/112"],
    ["2001:db8::1/64", "2001:db8::/64"],
  ];
  for (const [text, network] of cases) {
    it(`${text} is in ${network}`, () => assert.equal(formatPrefix(networkOf(prefix(text))), network));
  }
});

describe("lastAddress() is the top of the prefix", () => {
  const cases: [string, string][] = [
    ["192.168.1.5/24", "192.168.1.255"],
    ["10.0.0.0/8", "10.255.255.255"],
    ["0.0.0.0/0", "255.255.255.255"],
    ["10.1.2.3/32", "10.1.2.3"],
    ["2001:db8::/64", "2001:db8::ffff:ffff:ffff:ffff"],
    ["::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
  ];
  for (const [text, last] of cases) {
    it(`${text} ends at ${last}`, () => assert.equal(formatIP(lastAddress(prefix(text))), last));
  }
});

describe("contains()", () => {
  const cases: [string, string, boolean][] = [
    ["192.168.1.0/24", "192.168.1.255", true],
    ["192.168.1.0/24", "192.168.1.0", true],
    ["192.168.1.0/24", "192.168.2.0", false],
    ["192.168.1.77/24", "192.168.1.3", true],
    ["0.0.0.0/0", "8.8.8.8", true],
    ["0.0.0.0/0", "::1", false],
    ["::/0", "::1", true],
    ["::/0", "10.0.0.1", false],
    ["10.0.0.0/8", "::ffff:10.1.1.1", true],
    ["2001:db8::/64", "2001:db8::ffff", true],
    ["2001:db8::/64", "2001:db8:0:1::1", false],
  ];
  for (const [p, addr, expected] of cases) {
    it(`${p} ${expected ? "contains" : "does not contain"} ${addr}`, () =>
      assert.equal(contains(prefix(p), ip(addr)), expected));
  }
});

describe("maskToLength() takes dotted masks and prefix lengths", () => {
  const cases: [string | number, 4 | 6, number | undefined][] = [
    ["255.255.255.0", 4, 24],
    ["255.255.255.255", 4, 32],
    ["0.0.0.0", 4, 0],
    ["255.255.254.0", 4, 23],
    ["128.0.0.0", 4, 1],
    ["24", 4, 24],
    ["/24", 4, 24],
    [" 24 ", 4, 24],
    ["0", 4, 0],
    [24, 4, 24],
    [32, 4, 32],
    ["64", 6, 64],
    [128, 6, 128],
    // rejected: non-contiguous, out of range, malformed, or a dotted mask for IPv6
    ["255.0.255.0", 4, undefined],
    ["255.255.255.1", 4, undefined],
    ["0.255.255.255", 4, undefined],
    ["255.255.255.00", 4, undefined],
    ["255.255.255", 4, undefined],
    ["33", 4, undefined],
    [33, 4, undefined],
    ["129", 6, undefined],
    ["255.255.255.0", 6, undefined],
    [24.5, 4, undefined],
    [-1, 4, undefined],
    ["", 4, undefined],
    ["abc", 4, undefined],
    ["024", 4, undefined],
  ];
  for (const [mask, family, expected] of cases) {
    it(`${JSON.stringify(mask)} for IPv${family} is ${expected === undefined ? "rejected" : `/${expected}`}`, () =>
      assert.equal(maskToLength(mask, family), expected));
  }
});
