// MD5 challenge/response checking, challenges, constant-time equality.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "shim.h"

namespace {

// From a real Asterisk session: Challenge answered 748789512, the user's
// secret is amp111, and the client logged in with this key.
const char *const kChallenge = "748789512";
const char *const kSecret = "amp111";
const char *const kKey = "fb40de0e6f2f2acb49d0cce5407e4b6d";

bool all_digits(const char *s)
{
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

} // namespace

TEST(Md5, AsteriskTranscriptKeyIsAccepted)
{
	EXPECT_TRUE(amid_auth_md5_ok(kChallenge, kSecret, kKey));
}

TEST(Md5, UppercaseKeyIsRejected)
{
	std::string upper = kKey;
	for (char &c : upper)
		c = static_cast<char>(g_ascii_toupper(c));
	EXPECT_FALSE(amid_auth_md5_ok(kChallenge, kSecret, upper.c_str()));
}

TEST(Md5, WrongKeyIsRejected)
{
	// One nibble off.
	EXPECT_FALSE(amid_auth_md5_ok(kChallenge, kSecret,
				      "fb40de0e6f2f2acb49d0cce5407e4b6e"));
	// Right key for another secret / another challenge.
	EXPECT_FALSE(amid_auth_md5_ok(kChallenge, "amp112", kKey));
	EXPECT_FALSE(amid_auth_md5_ok("748789513", kSecret, kKey));
	// Truncated, extended and empty keys.
	EXPECT_FALSE(amid_auth_md5_ok(kChallenge, kSecret,
				      "fb40de0e6f2f2acb49d0cce5407e4b6"));
	EXPECT_FALSE(amid_auth_md5_ok(kChallenge, kSecret,
				      "fb40de0e6f2f2acb49d0cce5407e4b6d0"));
	EXPECT_FALSE(amid_auth_md5_ok(kChallenge, kSecret, ""));
	// The secret in clear is not a key.
	EXPECT_FALSE(amid_auth_md5_ok(kChallenge, kSecret, kSecret));
}

TEST(Md5, ChallengeIsHashedBeforeSecret)
{
	// md5("amp111748789512") is not the key.
	EXPECT_FALSE(amid_auth_md5_ok(kSecret, kChallenge, kKey));
}

TEST(Challenge, SixteenDigits)
{
	char buf[24];
	memset(buf, 'X', sizeof(buf));
	amid_auth_new_challenge(buf, sizeof(buf));
	EXPECT_EQ(strlen(buf), 16u);
	EXPECT_TRUE(all_digits(buf)) << buf;
	EXPECT_NE(buf[0], '0') << buf;
}

TEST(Challenge, TwoCallsDiffer)
{
	char a[24], b[24];
	amid_auth_new_challenge(a, sizeof(a));
	amid_auth_new_challenge(b, sizeof(b));
	EXPECT_STRNE(a, b);
}

TEST(Challenge, SmallBufferIsTruncatedAndTerminated)
{
	char buf[10];
	amid_auth_new_challenge(buf, sizeof(buf));
	EXPECT_EQ(strlen(buf), 9u);
	EXPECT_TRUE(all_digits(buf)) << buf;
}

TEST(Challenge, WorksAsMd5Challenge)
{
	char ch[24];
	amid_auth_new_challenge(ch, sizeof(ch));
	std::string text = std::string(ch) + kSecret;
	char *key = g_compute_checksum_for_string(G_CHECKSUM_MD5, text.c_str(), -1);
	EXPECT_TRUE(amid_auth_md5_ok(ch, kSecret, key));
	g_free(key);
}

TEST(Equal, ExactStringsOnly)
{
	EXPECT_TRUE(amid_auth_equal("secret", "secret"));
	EXPECT_TRUE(amid_auth_equal("", ""));
	EXPECT_FALSE(amid_auth_equal("secret", "Secret")); // case-sensitive
	EXPECT_FALSE(amid_auth_equal("secret", "secreT"));
	EXPECT_FALSE(amid_auth_equal("secret", "secret ")); // trailing blank
	EXPECT_FALSE(amid_auth_equal("secret ", "secret"));
	EXPECT_FALSE(amid_auth_equal("sec", "secret")); // prefix
	EXPECT_FALSE(amid_auth_equal("secret", "sec"));
	EXPECT_FALSE(amid_auth_equal("", "x"));
	EXPECT_FALSE(amid_auth_equal("x", ""));
	// Same length, shorter string repeated: "abab" vs "ab" must differ.
	EXPECT_FALSE(amid_auth_equal("abab", "ab"));
}
