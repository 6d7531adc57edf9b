// Address parsing and formatting.
#include <gtest/gtest.h>

#include <stdexcept>

#include "sockvs/address.h"

namespace sockvs {
namespace {

TEST(Address, ParsesIPv4) {
  const auto a = Address::parse("10.0.0.1");
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->is_v4());
  EXPECT_EQ(a->family(), AF_INET);
  ASSERT_EQ(a->bytes().size(), 4U);
  EXPECT_EQ(a->bytes()[0], 10);
  EXPECT_EQ(a->bytes()[3], 1);
  EXPECT_EQ(a->to_string(), "10.0.0.1");
}

TEST(Address, ParsesIPv6AndPrintsCanonically) {
  const auto a = Address::parse("fd00:0:0::0001");
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->is_v6());
  ASSERT_EQ(a->bytes().size(), 16U);
  EXPECT_EQ(a->bytes()[0], 0xfd);
  EXPECT_EQ(a->bytes()[15], 1);
  EXPECT_EQ(a->to_string(), "fd00::1");
}

TEST(Address, RejectsNamesAndGarbage) {
  for (const char* bad : {"", "localhost", "10.0.0", "10.0.0.256", "10.0.0.1.2", "1.2.3.4 ",
                          "fd00::zz", "[fd00::1]", "10.0.0.1:80", "::1%lo", "0x0a000001"}) {
    EXPECT_FALSE(Address::parse(bad).has_value()) << bad;
  }
}

TEST(Address, DefaultIsUnspecified) {
  const Address a;
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.family(), AF_UNSPEC);
  EXPECT_TRUE(a.bytes().empty());
  EXPECT_EQ(a.to_string(), "");
}

TEST(Address, FromBytesChecksLength) {
  const std::uint8_t v4[4] = {192, 168, 1, 5};
  EXPECT_EQ(Address::from_bytes(AF_INET, v4).to_string(), "192.168.1.5");
  EXPECT_THROW(Address::from_bytes(AF_INET6, v4), std::invalid_argument);
  EXPECT_THROW(Address::from_bytes(AF_UNSPEC, v4), std::invalid_argument);
  const std::uint8_t v6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  EXPECT_EQ(Address::from_bytes(AF_INET6, v6).to_string(), "fd00::2");
  EXPECT_THROW(Address::from_bytes(AF_INET, v6), std::invalid_argument);
}

TEST(Address, Equality) {
  EXPECT_EQ(*Address::parse("::1"), *Address::parse("0::0:1"));
  EXPECT_NE(*Address::parse("10.0.0.1"), *Address::parse("10.0.0.2"));
  EXPECT_NE(*Address::parse("::"), Address());
}

TEST(Endpoint, IPv4WithPort) {
  const Endpoint ep = parse_endpoint("10.0.0.1:6379");
  EXPECT_EQ(ep.addr.to_string(), "10.0.0.1");
  EXPECT_EQ(ep.port, 6379);
}

TEST(Endpoint, IPv4WithoutPort) {
  const Endpoint ep = parse_endpoint("192.168.1.5");
  EXPECT_EQ(ep.addr.to_string(), "192.168.1.5");
  EXPECT_FALSE(ep.port.has_value());
}

TEST(Endpoint, BracketedIPv6WithAndWithoutPort) {
  Endpoint ep = parse_endpoint("[fd00::1]:80");
  EXPECT_TRUE(ep.addr.is_v6());
  EXPECT_EQ(ep.addr.to_string(), "fd00::1");
  EXPECT_EQ(ep.port, 80);
  ep = parse_endpoint("[::1]");
  EXPECT_EQ(ep.addr.to_string(), "::1");
  EXPECT_FALSE(ep.port.has_value());
}

TEST(Endpoint, BareIPv6HasNoPort) {
  const Endpoint ep = parse_endpoint("fd00::1:80");  // all of it is the address
  EXPECT_EQ(ep.addr.to_string(), "fd00::1:80");
  EXPECT_FALSE(ep.port.has_value());
}

TEST(Endpoint, PortBounds) {
  EXPECT_EQ(parse_endpoint("10.0.0.1:1").port, 1);
  EXPECT_EQ(parse_endpoint("10.0.0.1:65535").port, 65535);
  for (const char* bad : {"10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:70000", "10.0.0.1:-1",
                          "10.0.0.1:", "10.0.0.1:http", "10.0.0.1:+80", "10.0.0.1: 80",
                          "[fd00::1]:0", "[fd00::1]:99999", "10.0.0.1:123456789012345678901"}) {
    EXPECT_THROW(parse_endpoint(bad), std::invalid_argument) << bad;
  }
}

TEST(Endpoint, RejectsMalformed) {
  for (const char* bad :
       {"", "10.255.0.256:80", "10.255.0:80", "10.255.0.1.2:80", "[fd00::zz]:80", "[fd00::1",
        "[fd00::1]80", "[10.0.0.1]:80", "host.example:80", "localhost", "[]:80", ":80"}) {
    EXPECT_THROW(parse_endpoint(bad), std::invalid_argument) << bad;
  }
}

TEST(Endpoint, ErrorMessagesNameTheInput) {
  try {
    parse_endpoint("10.0.0.1:70000");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("70000"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("1-65535"), std::string::npos) << e.what();
  }
  try {
    parse_endpoint("myhost:80");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("not resolved"), std::string::npos) << e.what();
  }
}

TEST(Endpoint, ParsePortAlone) {
  EXPECT_EQ(parse_port("8080"), 8080);
  EXPECT_THROW(parse_port(""), std::invalid_argument);
  EXPECT_THROW(parse_port("0"), std::invalid_argument);
  EXPECT_THROW(parse_port("65536"), std::invalid_argument);
}

TEST(Endpoint, FormatsWithBracketsForIPv6) {
  EXPECT_EQ(format_endpoint(*Address::parse("10.0.0.1"), 6379), "10.0.0.1:6379");
  EXPECT_EQ(format_endpoint(*Address::parse("fd00::1"), 80), "[fd00::1]:80");
  EXPECT_EQ(format_endpoint(*Address::parse("::"), 1), "[::]:1");
}

TEST(Endpoint, FormatParseRoundTrip) {
  for (const char* text : {"10.0.0.1:6379", "[fd00::1]:80", "[::1]:65535", "1.2.3.4:1"}) {
    const Endpoint ep = parse_endpoint(text);
    EXPECT_EQ(format_endpoint(ep.addr, *ep.port), text);
  }
}

TEST(Address, FamilyNames) {
  EXPECT_EQ(family_name(AF_INET), "IPv4");
  EXPECT_EQ(family_name(AF_INET6), "IPv6");
  EXPECT_EQ(family_name(AF_UNSPEC), "unspecified");
}

}  // namespace
}  // namespace sockvs
