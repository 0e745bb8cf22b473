// The incremental AMI parser (AmidParser) and the AmiMessage accessors.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "shim.h"

namespace {

using Lines = std::vector<std::string>;

// A parsed message copied out of the parser (which only lends it).
struct Msg {
	Lines lines;
	guint flags = 0;
	std::string action;
};

Msg snapshot(const AmiMessage *m)
{
	Msg out;
	for (guint i = 0; i < ami_message_line_count(m); i++)
		out.lines.emplace_back(ami_message_line(m, i));
	out.flags = m->flags;
	out.action = amid_message_action(m);
	return out;
}

class Parser : public ::testing::Test {
protected:
	AmidParser p;

	void SetUp() override { amid_parser_init(&p); }
	void TearDown() override { amid_parser_clear(&p); }

	void feed(const std::string &s) { amid_parser_feed(&p, s.data(), s.size()); }

	// Every complete message, used the way the session uses the parser:
	// the message is reset once handled.
	std::vector<Msg> drain()
	{
		std::vector<Msg> out;
		for (;;) {
			AmiMessage *m = nullptr;
			AmidParseResult r = amid_parser_next(&p, &m);
			EXPECT_NE(r, AMID_PARSE_ABUSE);
			if (r != AMID_PARSE_MESSAGE) {
				EXPECT_EQ(m, nullptr);
				return out;
			}
			out.push_back(snapshot(m));
			amid_message_reset(m);
		}
	}

	// Feed @s, expect exactly one message and return it.
	Msg one(const std::string &s)
	{
		feed(s);
		std::vector<Msg> all = drain();
		EXPECT_EQ(all.size(), 1u) << "input: " << s;
		return all.empty() ? Msg{} : all[0];
	}
};

// A message built from text, for the accessor tests.
class Header : public ::testing::Test {
protected:
	AmiMessage *m = nullptr;

	void TearDown() override { amid_message_free(m); }

	// Parse through the real parser so that the accessors see wire input.
	void parse(const std::string &wire)
	{
		AmidParser p;
		amid_parser_init(&p);
		amid_parser_feed(&p, wire.data(), wire.size());
		AmiMessage *got = nullptr;
		ASSERT_EQ(amid_parser_next(&p, &got), AMID_PARSE_MESSAGE);
		// Take the message over: the parser no longer owns it.
		p.msg = nullptr;
		amid_parser_clear(&p);
		m = got;
	}
};

std::string repeat(char c, size_t n) { return std::string(n, c); }

} // namespace

// ------------------------------------------------------------ framing

TEST_F(Parser, CrLf)
{
	Msg m = one("Action: Ping\r\nActionID: 42\r\n\r\n");
	EXPECT_EQ(m.lines, (Lines{"Action: Ping", "ActionID: 42"}));
	EXPECT_EQ(m.flags, 0u);
	EXPECT_EQ(m.action, "Ping");
	EXPECT_EQ(amid_parser_pending(&p), 0u);
}

TEST_F(Parser, LfOnly)
{
	Msg m = one("Action: Ping\nActionID: 42\n\n");
	EXPECT_EQ(m.lines, (Lines{"Action: Ping", "ActionID: 42"}));
	EXPECT_EQ(m.flags, 0u);
}

TEST_F(Parser, MixedTerminators)
{
	// CRLF line, LF line, then an LF-only blank line; then the reverse.
	feed("Action: Ping\r\nActionID: 1\n\n"
	     "Action: Logoff\nActionID: 2\r\n\r\n");
	std::vector<Msg> all = drain();
	ASSERT_EQ(all.size(), 2u);
	EXPECT_EQ(all[0].lines, (Lines{"Action: Ping", "ActionID: 1"}));
	EXPECT_EQ(all[1].lines, (Lines{"Action: Logoff", "ActionID: 2"}));
}

TEST_F(Parser, LoneCrStaysInLine)
{
	// A CR not followed by LF is no terminator: one line, CR inside.
	Msg m = one("Action: Ping\rActionID: 1\r\n\r\n");
	EXPECT_EQ(m.lines, (Lines{"Action: Ping\rActionID: 1"}));
	EXPECT_EQ(m.action, "Ping\rActionID: 1");
}

TEST_F(Parser, OnlyOneCrIsStrippedBeforeLf)
{
	Msg m = one("Key: v\r\r\n\r\n");
	EXPECT_EQ(m.lines, (Lines{"Key: v\r"}));
}

TEST_F(Parser, CrBeforeBlankLfIsStillBlank)
{
	// "\r\n" alone is the blank line even when the CR arrived first.
	feed("Action: Ping\r\n\r");
	AmiMessage *m = nullptr;
	EXPECT_EQ(amid_parser_next(&p, &m), AMID_PARSE_NEED_MORE);
	feed("\n");
	std::vector<Msg> all = drain();
	ASSERT_EQ(all.size(), 1u);
	EXPECT_EQ(all[0].lines, (Lines{"Action: Ping"}));
}

TEST_F(Parser, NeedMoreUntilBlankLine)
{
	feed("Action: Ping\r\nActionID: 5\r\n");
	AmiMessage dummy{};
	AmiMessage *m = &dummy; // must be cleared
	EXPECT_EQ(amid_parser_next(&p, &m), AMID_PARSE_NEED_MORE);
	EXPECT_EQ(m, nullptr);
	feed("\r\n");
	std::vector<Msg> all = drain();
	ASSERT_EQ(all.size(), 1u);
	EXPECT_EQ(all[0].lines, (Lines{"Action: Ping", "ActionID: 5"}));
}

TEST_F(Parser, NothingFedIsNeedMore)
{
	AmiMessage *m = nullptr;
	EXPECT_EQ(amid_parser_next(&p, &m), AMID_PARSE_NEED_MORE);
	EXPECT_EQ(m, nullptr);
	EXPECT_EQ(amid_parser_pending(&p), 0u);
}

TEST_F(Parser, ByteByByteGivesSameMessage)
{
	const std::string wire =
		"Action: Originate\r\nChannel: Local/1@x\nVariable: a=1,b=2\r\n"
		"ActionID: frag\r\n\r\n";
	Msg whole;
	{
		AmidParser q;
		amid_parser_init(&q);
		amid_parser_feed(&q, wire.data(), wire.size());
		AmiMessage *m = nullptr;
		ASSERT_EQ(amid_parser_next(&q, &m), AMID_PARSE_MESSAGE);
		whole = snapshot(m);
		amid_parser_clear(&q);
	}

	std::vector<Msg> got;
	for (size_t i = 0; i < wire.size(); i++) {
		amid_parser_feed(&p, &wire[i], 1);
		AmiMessage *m = nullptr;
		AmidParseResult r = amid_parser_next(&p, &m);
		if (i + 1 < wire.size()) {
			ASSERT_EQ(r, AMID_PARSE_NEED_MORE) << "at byte " << i;
			continue;
		}
		ASSERT_EQ(r, AMID_PARSE_MESSAGE);
		got.push_back(snapshot(m));
		amid_message_reset(m);
	}
	ASSERT_EQ(got.size(), 1u);
	EXPECT_EQ(got[0].lines, whole.lines);
	EXPECT_EQ(got[0].lines.size(), 4u);
	EXPECT_EQ(got[0].action, "Originate");
	EXPECT_EQ(got[0].flags, 0u);
}

TEST_F(Parser, TwoMessagesInOneFeed)
{
	feed("Action: Ping\r\nActionID: a\r\n\r\nAction: Events\r\nEventMask: off\r\n\r\n");
	std::vector<Msg> all = drain();
	ASSERT_EQ(all.size(), 2u);
	EXPECT_EQ(all[0].lines, (Lines{"Action: Ping", "ActionID: a"}));
	EXPECT_EQ(all[1].lines, (Lines{"Action: Events", "EventMask: off"}));
	EXPECT_EQ(all[1].action, "Events");
	EXPECT_EQ(amid_parser_pending(&p), 0u);
}

// message.h: the message from amid_parser_next() is "borrowed until next
// call", so the next call must hand out the next message alone, even when
// the caller did not reset the previous one itself.
TEST_F(Parser, NextCallStartsAFreshMessageWithoutCallerReset)
{
	feed("Action: Ping\r\nActionID: a\r\n\r\n"
	     "Action: Logoff\r\n\r\n");
	AmiMessage *m = nullptr;
	ASSERT_EQ(amid_parser_next(&p, &m), AMID_PARSE_MESSAGE);
	EXPECT_EQ(snapshot(m).lines, (Lines{"Action: Ping", "ActionID: a"}));
	ASSERT_EQ(amid_parser_next(&p, &m), AMID_PARSE_MESSAGE);
	Msg second = snapshot(m);
	EXPECT_EQ(second.lines, (Lines{"Action: Logoff"}));
	EXPECT_EQ(second.action, "Logoff");
}

TEST_F(Parser, EmptyMessageHasZeroLines)
{
	feed("\r\n\n");
	std::vector<Msg> all = drain();
	ASSERT_EQ(all.size(), 2u);
	for (const Msg &m : all) {
		EXPECT_TRUE(m.lines.empty());
		EXPECT_EQ(m.flags, 0u);
		EXPECT_EQ(m.action, "");
	}
}

TEST_F(Parser, BlankOnlyLineIsAHeaderNotAnEnd)
{
	Msg m = one(" \t\r\nAction: Ping\r\n\r\n");
	EXPECT_EQ(m.lines, (Lines{" \t", "Action: Ping"}));
	EXPECT_EQ(m.action, "Ping");
}

TEST_F(Parser, NulByteTruncatesThatLineOnly)
{
	const char wire[] = "Action: Ping\r\nActionID: ab\0cd\r\nX: y\r\n\r\n";
	amid_parser_feed(&p, wire, sizeof(wire) - 1);
	std::vector<Msg> all = drain();
	ASSERT_EQ(all.size(), 1u);
	EXPECT_EQ(all[0].lines, (Lines{"Action: Ping", "ActionID: ab", "X: y"}));
}

// ------------------------------------------------------------ limits

TEST_F(Parser, LineTooLongFlagsMessageAndNextIsClean)
{
	feed("Action: Ping\r\nX: " + repeat('x', AMID_MAX_LINE) +
	     "\r\nActionID: 9\r\n\r\nAction: Ping\r\nActionID: 10\r\n\r\n");
	std::vector<Msg> all = drain();
	ASSERT_EQ(all.size(), 2u);
	EXPECT_TRUE(all[0].flags & AMID_MSG_LINE_TOO_LONG);
	// The long line is dropped; the rest of the message is kept.
	EXPECT_EQ(all[0].lines, (Lines{"Action: Ping", "ActionID: 9"}));
	EXPECT_STREQ(amid_message_flag_error(all[0].flags),
		     "Failed to parse message: line too long");
	EXPECT_EQ(all[1].flags, 0u);
	EXPECT_EQ(all[1].lines, (Lines{"Action: Ping", "ActionID: 10"}));
}

TEST_F(Parser, LineTooLongArrivingInPieces)
{
	// No LF for AMID_MAX_LINE bytes: flagged while still incomplete, and
	// the buffered bytes are dropped instead of kept.
	feed("Action: Ping\r\nX: ");
	std::string chunk = repeat('y', 4096);
	for (int i = 0; i < 4; i++) {
		feed(chunk);
		AmiMessage *m = nullptr;
		ASSERT_EQ(amid_parser_next(&p, &m), AMID_PARSE_NEED_MORE);
	}
	EXPECT_TRUE(p.msg->flags & AMID_MSG_LINE_TOO_LONG);
	EXPECT_EQ(amid_parser_pending(&p), 0u);
	feed("tail\r\nActionID: 3\r\n\r\nAction: Ping\r\n\r\n");
	std::vector<Msg> all = drain();
	ASSERT_EQ(all.size(), 2u);
	EXPECT_TRUE(all[0].flags & AMID_MSG_LINE_TOO_LONG);
	EXPECT_EQ(all[0].lines, (Lines{"Action: Ping", "ActionID: 3"}));
	EXPECT_EQ(all[1].flags, 0u);
	EXPECT_EQ(all[1].lines, (Lines{"Action: Ping"}));
}

TEST_F(Parser, LineLimitWithCrLfIsTerminatorIncluded)
{
	// AMID_MAX_LINE bytes with CRLF: AMID_MAX_LINE - 2 characters fit.
	std::string fits = "X: " + repeat('a', AMID_MAX_LINE - 2 - 3);
	std::string over = "X: " + repeat('b', AMID_MAX_LINE - 1 - 3);
	feed(fits + "\r\n\r\n" + over + "\r\n\r\n");
	std::vector<Msg> all = drain();
	ASSERT_EQ(all.size(), 2u);
	EXPECT_EQ(all[0].flags, 0u);
	ASSERT_EQ(all[0].lines.size(), 1u);
	EXPECT_EQ(all[0].lines[0].size(), fits.size());
	EXPECT_TRUE(all[0].lines[0] == fits);
	EXPECT_TRUE(all[1].flags & AMID_MSG_LINE_TOO_LONG);
	EXPECT_TRUE(all[1].lines.empty());
}

TEST_F(Parser, LongestCrLfLineWithLateLfIsAccepted)
{
	// The CR is buffered before its LF arrives: not yet a line too long.
	std::string fits = "X: " + repeat('c', AMID_MAX_LINE - 2 - 3);
	feed(fits + "\r");
	AmiMessage *m = nullptr;
	ASSERT_EQ(amid_parser_next(&p, &m), AMID_PARSE_NEED_MORE);
	feed("\n\r\n");
	std::vector<Msg> all = drain();
	ASSERT_EQ(all.size(), 1u);
	EXPECT_EQ(all[0].flags, 0u);
	ASSERT_EQ(all[0].lines.size(), 1u);
	EXPECT_TRUE(all[0].lines[0] == fits);
}

TEST_F(Parser, LineLimitWithBareLfIsTerminatorIncluded)
{
	// message.h: "AMID_MAX_LINE bytes per line, terminator included".  A
	// bare LF is one byte, so AMID_MAX_LINE - 1 characters + LF fit (as in
	// Asterisk: 1023 characters + LF fit its 1024 bytes).
	std::string fits = "X: " + repeat('a', AMID_MAX_LINE - 1 - 3);
	std::string over = "X: " + repeat('b', AMID_MAX_LINE - 3);
	feed(fits + "\n\n" + over + "\n\n");
	std::vector<Msg> all = drain();
	ASSERT_EQ(all.size(), 2u);
	EXPECT_EQ(all[0].flags, 0u);
	ASSERT_EQ(all[0].lines.size(), 1u);
	EXPECT_EQ(all[0].lines[0].size(), fits.size());
	EXPECT_TRUE(all[0].lines[0] == fits);
	EXPECT_TRUE(all[1].flags & AMID_MSG_LINE_TOO_LONG);
}

TEST_F(Parser, MaxHeadersLinesAreFine)
{
	std::string wire;
	for (int i = 0; i < AMID_MAX_HEADERS; i++)
		wire += "H" + std::to_string(i) + ": v\r\n";
	Msg m = one(wire + "\r\n");
	EXPECT_EQ(m.flags, 0u);
	ASSERT_EQ(m.lines.size(), static_cast<size_t>(AMID_MAX_HEADERS));
	EXPECT_EQ(m.lines.back(), "H127: v");
}

TEST_F(Parser, TooManyLinesFlagsMessageAndNextIsClean)
{
	std::string wire = "Action: Ping\r\n";
	for (int i = 1; i < AMID_MAX_HEADERS + 1; i++) // 129 lines in all
		wire += "H" + std::to_string(i) + ": v\r\n";
	feed(wire + "\r\nAction: Ping\r\n\r\n");
	std::vector<Msg> all = drain();
	ASSERT_EQ(all.size(), 2u);
	EXPECT_TRUE(all[0].flags & AMID_MSG_TOO_MANY_LINES);
	EXPECT_EQ(all[0].lines.size(), static_cast<size_t>(AMID_MAX_HEADERS));
	EXPECT_STREQ(amid_message_flag_error(all[0].flags),
		     "Too many lines in message or allocation failure");
	EXPECT_EQ(all[1].flags, 0u);
	EXPECT_EQ(all[1].lines, (Lines{"Action: Ping"}));
}

TEST_F(Parser, MessageTooBig)
{
	std::string wire;
	std::string line = "X: " + repeat('z', 1000);
	for (int i = 0; i < 70; i++) // 70 * 1004 bytes > AMID_MAX_MESSAGE
		wire += line + "\r\n";
	Msg m = one(wire + "\r\n");
	EXPECT_TRUE(m.flags & AMID_MSG_TOO_BIG);
	EXPECT_LT(m.lines.size(), 70u);
	EXPECT_STREQ(amid_message_flag_error(m.flags),
		     "Failed to parse message: message too large");
	EXPECT_STREQ(amid_message_flag_error(0), "");
}

TEST_F(Parser, EndlessGarbageWithoutNewlineIsAbuse)
{
	std::string chunk = repeat('g', 64 * 1024);
	size_t fed = 0;
	AmidParseResult r = AMID_PARSE_NEED_MORE;
	while (fed <= 2u * AMID_MAX_GARBAGE) {
		feed(chunk);
		fed += chunk.size();
		AmiMessage *m = nullptr;
		r = amid_parser_next(&p, &m);
		if (r != AMID_PARSE_NEED_MORE)
			break;
		// Dropped, not buffered.
		EXPECT_EQ(amid_parser_pending(&p), 0u);
		EXPECT_LE(fed, static_cast<size_t>(AMID_MAX_GARBAGE));
	}
	EXPECT_EQ(r, AMID_PARSE_ABUSE);
	EXPECT_GT(fed, static_cast<size_t>(AMID_MAX_GARBAGE));
}

TEST_F(Parser, EndlessLinesInFlaggedMessageIsAbuse)
{
	// A message already over the line limit that never ends.
	std::string wire;
	for (int i = 0; i < AMID_MAX_HEADERS + 1; i++)
		wire += "H: v\r\n";
	// Garbage counts line contents (terminators excluded): 100 bytes each.
	std::string line = "X: " + repeat('q', 97) + "\r\n";
	for (size_t n = 0; n <= AMID_MAX_GARBAGE + 1024; n += line.size() - 2)
		wire += line;
	feed(wire);
	AmiMessage *m = nullptr;
	EXPECT_EQ(amid_parser_next(&p, &m), AMID_PARSE_ABUSE);
}

TEST_F(Parser, LargeGoodTrafficIsNotAbuse)
{
	// Many clean messages add up to well over AMID_MAX_GARBAGE.
	std::string msg = "Action: Ping\r\nX: " + repeat('k', 4000) + "\r\n\r\n";
	std::string wire;
	for (int i = 0; i < 300; i++)
		wire += msg;
	feed(wire);
	std::vector<Msg> all = drain();
	EXPECT_EQ(all.size(), 300u);
	for (const Msg &m : all)
		EXPECT_EQ(m.flags, 0u);
}

TEST_F(Parser, ShrinkFreesBuffersWhenIdle)
{
	feed("Action: Ping\r\n\r\n");
	ASSERT_EQ(drain().size(), 1u);
	ASSERT_NE(p.buf, nullptr);
	ASSERT_NE(p.msg, nullptr);
	amid_parser_shrink(&p);
	EXPECT_EQ(p.buf, nullptr);
	EXPECT_EQ(p.msg, nullptr);
	EXPECT_EQ(amid_parser_pending(&p), 0u);

	// And the parser still works afterwards.
	feed("Action: Logoff\r\n\r\n");
	std::vector<Msg> all = drain();
	ASSERT_EQ(all.size(), 1u);
	EXPECT_EQ(all[0].action, "Logoff");
}

TEST_F(Parser, ShrinkKeepsAPartialMessage)
{
	feed("Action: Ping\r\nAction");
	AmiMessage *m = nullptr;
	ASSERT_EQ(amid_parser_next(&p, &m), AMID_PARSE_NEED_MORE);
	amid_parser_shrink(&p);
	EXPECT_NE(p.buf, nullptr); // "Action" is still unparsed
	EXPECT_NE(p.msg, nullptr); // one line already assembled
	EXPECT_EQ(amid_parser_pending(&p), 6u);
	feed("ID: 77\r\n\r\n");
	std::vector<Msg> all = drain();
	ASSERT_EQ(all.size(), 1u);
	EXPECT_EQ(all[0].lines, (Lines{"Action: Ping", "ActionID: 77"}));
}

TEST_F(Parser, ReserveAndCommit)
{
	const std::string part1 = "Action: Pi", part2 = "ng\r\n\r\n";
	guint8 *dst = amid_parser_reserve(&p, 4096);
	memcpy(dst, part1.data(), part1.size());
	amid_parser_commit(&p, part1.size());
	EXPECT_EQ(amid_parser_pending(&p), part1.size());
	dst = amid_parser_reserve(&p, 4096);
	memcpy(dst, part2.data(), part2.size());
	amid_parser_commit(&p, part2.size());
	std::vector<Msg> all = drain();
	ASSERT_EQ(all.size(), 1u);
	EXPECT_EQ(all[0].lines, (Lines{"Action: Ping"}));
}

// ------------------------------------------------------------ headers

TEST_F(Header, NameIsCaseInsensitive)
{
	parse("aCtIoN: Ping\r\nactionid: 12\r\n\r\n");
	EXPECT_STREQ(ami_get_header(m, "Action"), "Ping");
	EXPECT_STREQ(ami_get_header(m, "ACTIONID"), "12");
	EXPECT_STREQ(amid_message_action(m), "Ping");
}

TEST_F(Header, NameMustBeFollowedDirectlyByColon)
{
	parse("Action : Ping\r\n ActionID: 3\r\nActionID2: 4\r\n\r\n");
	EXPECT_STREQ(ami_get_header(m, "Action"), "");
	EXPECT_STREQ(amid_message_action(m), "");
	EXPECT_STREQ(ami_get_header(m, "ActionID"), ""); // leading space
	EXPECT_STREQ(ami_get_header(m, "ActionID2"), "4");
	EXPECT_EQ(ami_message_line_count(m), 3u);
}

TEST_F(Header, NameIsNotAPrefixMatch)
{
	parse("ActionID: 5\r\n\r\n");
	EXPECT_STREQ(ami_get_header(m, "Action"), "");
	EXPECT_STREQ(amid_message_action(m), "");
	EXPECT_STREQ(ami_get_header(m, "ActionI"), "");
}

TEST_F(Header, LeadingBlanksSkippedTrailingKept)
{
	parse("Secret: \t  pw  \t\r\nKey:\x01\x02v\r\nAction: Ping \r\n\r\n");
	EXPECT_STREQ(ami_get_header(m, "Secret"), "pw  \t");
	EXPECT_STREQ(ami_get_header(m, "Key"), "v"); // every byte <= 0x20
	EXPECT_STREQ(amid_message_action(m), "Ping ");
}

TEST_F(Header, ValueKeepsLaterColons)
{
	parse("Payload: hello: world\r\n\r\n");
	EXPECT_STREQ(ami_get_header(m, "Payload"), "hello: world");
	EXPECT_STREQ(ami_message_line(m, 0), "Payload: hello: world");
}

TEST_F(Header, FirstDuplicateWins)
{
	parse("ActionID: 1\r\nActionID: 2\r\nActionid: 3\r\n\r\n");
	EXPECT_STREQ(ami_get_header(m, "ActionID"), "1");
}

TEST_F(Header, FirstDuplicateWinsEvenWhenEmpty)
{
	parse("ActionID:\r\nActionID: 2\r\n\r\n");
	EXPECT_STREQ(ami_get_header(m, "ActionID"), "");
}

TEST_F(Header, ActionIsFirstNonEmpty)
{
	parse("Action:\r\nAction:   \r\nAction: Ping\r\nAction: Logoff\r\n\r\n");
	EXPECT_STREQ(amid_message_action(m), "Ping");
	// The plain accessor still takes the first one.
	EXPECT_STREQ(ami_get_header(m, "Action"), "");
}

TEST_F(Header, MissingHeaderIsEmptyNeverNull)
{
	parse("Action: Ping\r\n\r\n");
	const char *v = ami_get_header(m, "Username");
	ASSERT_NE(v, nullptr);
	EXPECT_STREQ(v, "");
	ASSERT_NE(ami_get_header(nullptr, "Action"), nullptr);
	EXPECT_STREQ(ami_get_header(nullptr, "Action"), "");
	ASSERT_NE(ami_get_header(m, nullptr), nullptr);
	EXPECT_STREQ(ami_get_header(m, nullptr), "");
}

TEST_F(Header, ColonlessLineIsKeptAsALine)
{
	parse("Action: UserEvent\r\nhello world\r\nUserEvent: X\r\n\r\n");
	ASSERT_EQ(ami_message_line_count(m), 3u);
	EXPECT_STREQ(ami_message_line(m, 0), "Action: UserEvent");
	EXPECT_STREQ(ami_message_line(m, 1), "hello world");
	EXPECT_STREQ(ami_message_line(m, 2), "UserEvent: X");
	EXPECT_EQ(ami_message_line(m, 3), nullptr);
	EXPECT_STREQ(ami_get_header(m, "hello world"), "");
	EXPECT_STREQ(ami_get_header(m, "UserEvent"), "X");
}

TEST_F(Header, LineAccessorsOnNull)
{
	EXPECT_EQ(ami_message_line_count(nullptr), 0u);
	EXPECT_EQ(ami_message_line(nullptr, 0), nullptr);
}

// ------------------------------------------------------------ Variable:

namespace {

using Vars = std::vector<std::pair<std::string, std::string>>;

Vars variables(const AmiMessage *m)
{
	GPtrArray *a = ami_get_variables(m);
	EXPECT_NE(a, nullptr);
	Vars out;
	for (guint i = 0; a && i < a->len; i++) {
		auto *v = static_cast<AmiVariable *>(g_ptr_array_index(a, i));
		out.emplace_back(v->name, v->value);
	}
	if (a)
		g_ptr_array_unref(a);
	return out;
}

} // namespace

TEST_F(Header, VariablesSplitOnCommas)
{
	parse("Action: Originate\r\nVariable: a=1,b=2\r\n\r\n");
	EXPECT_EQ(variables(m), (Vars{{"a", "1"}, {"b", "2"}}));
}

TEST_F(Header, VariablesQuotesGroupAndVanish)
{
	parse("Variable: x=\"1,2\",\"na,me\"=v,y=3\r\n\r\n");
	EXPECT_EQ(variables(m), (Vars{{"x", "1,2"}, {"na,me", "v"}, {"y", "3"}}));
}

TEST_F(Header, VariablesWithoutEqualsOrNameAreDropped)
{
	parse("Variable: flag,a=1,=nope,b=,c=d=e\r\n\r\n");
	EXPECT_EQ(variables(m), (Vars{{"a", "1"}, {"b", ""}, {"c", "d=e"}}));
}

TEST_F(Header, SeveralVariableHeadersInRequestOrder)
{
	parse("Variable: z=26\r\nAction: Originate\r\nvariable: a=1,m=13\r\n"
	      "Variable : no=1\r\nVARIABLE:   b=2\r\n\r\n");
	EXPECT_EQ(variables(m),
		  (Vars{{"z", "26"}, {"a", "1"}, {"m", "13"}, {"b", "2"}}));
}

TEST_F(Header, NoVariablesGivesEmptyArray)
{
	parse("Action: Originate\r\n\r\n");
	EXPECT_TRUE(variables(m).empty());
	EXPECT_TRUE(variables(nullptr).empty());
}

// ------------------------------------------------------------ parse_text

TEST(ParseText, BuildsMessageFromText)
{
	AmiMessage *m = amid_message_parse_text(
		"Action: Ping\r\nActionID: 1\nloose line\r\nLast: no newline");
	ASSERT_NE(m, nullptr);
	ASSERT_EQ(ami_message_line_count(m), 4u);
	EXPECT_STREQ(ami_message_line(m, 0), "Action: Ping");
	EXPECT_STREQ(ami_message_line(m, 1), "ActionID: 1");
	EXPECT_STREQ(ami_message_line(m, 2), "loose line");
	EXPECT_STREQ(ami_message_line(m, 3), "Last: no newline");
	EXPECT_STREQ(amid_message_action(m), "Ping");
	EXPECT_STREQ(ami_get_header(m, "last"), "no newline");
	EXPECT_EQ(m->flags, 0u);
	amid_message_free(m);
}

TEST(ParseText, SkipsBlankLines)
{
	AmiMessage *m = amid_message_parse_text("\r\nA: 1\r\n\r\n\nB: 2\r\n");
	ASSERT_EQ(ami_message_line_count(m), 2u);
	EXPECT_STREQ(ami_get_header(m, "A"), "1");
	EXPECT_STREQ(ami_get_header(m, "B"), "2");
	amid_message_free(m);
}

TEST(ParseText, EmptyText)
{
	AmiMessage *m = amid_message_parse_text("");
	EXPECT_EQ(ami_message_line_count(m), 0u);
	EXPECT_STREQ(amid_message_action(m), "");
	amid_message_free(m);
}

TEST(ParseText, AddLineLimits)
{
	AmiMessage *m = amid_message_new();
	for (int i = 0; i < AMID_MAX_HEADERS; i++)
		amid_message_add_line(m, "K: v", 4);
	EXPECT_EQ(m->flags, 0u);
	amid_message_add_line(m, "K: v", 4);
	EXPECT_EQ(m->flags, static_cast<guint>(AMID_MSG_TOO_MANY_LINES));
	EXPECT_EQ(ami_message_line_count(m), static_cast<guint>(AMID_MAX_HEADERS));
	amid_message_reset(m);
	EXPECT_EQ(m->flags, 0u);
	EXPECT_EQ(ami_message_line_count(m), 0u);
	amid_message_free(m);
	amid_message_free(nullptr); // allowed
}
