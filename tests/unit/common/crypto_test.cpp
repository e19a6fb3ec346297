// libcrypto loaded on demand (common/crypto.h): the digests are the standard ones, and a library
// that cannot be loaded is an error that names it.
#include "common/crypto.h"

#include <gtest/gtest.h>

#include <string>

namespace tapedeck::crypto {
namespace {

std::string Hex(const Digest& d) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

TEST(Crypto, Sha256OfKnownTexts) {
  ASSERT_TRUE(Load().ok());
  // FIPS 180-2's examples.
  EXPECT_EQ(Hex(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Crypto, HmacSha256OfRfc4231TestCase2) {
  EXPECT_EQ(Hex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, RandomBytesAndCompare) {
  std::string a(32, '\0'), b(32, '\0');
  ASSERT_TRUE(RandomBytes(a));
  ASSERT_TRUE(RandomBytes(b));
  EXPECT_NE(a, b);
  EXPECT_TRUE(ConstantTimeEqual(a, a));
  EXPECT_FALSE(ConstantTimeEqual(a, b));
  EXPECT_FALSE(ConstantTimeEqual(a, a.substr(1)));
}

TEST(Crypto, AMissingLibraryIsAnErrorNamingIt) {
  Status s = LoadFrom("libtapedeck-no-such-crypto.so.3");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kIo);
  EXPECT_NE(s.error().msg.find("libcrypto"), std::string::npos) << s.error().msg;
  EXPECT_EQ(s.error().details.at("library"), "libtapedeck-no-such-crypto.so.3");
  EXPECT_FALSE(s.error().details.at("dlerror").empty());
  // libc is there and has none of libcrypto's functions.
  Status libc = LoadFrom("libc.so.6");
  ASSERT_FALSE(libc.ok());
  EXPECT_NE(libc.error().details.at("dlerror").find("EVP_Digest"), std::string::npos);
}

}  // namespace
}  // namespace tapedeck::crypto
