// Event classes: Privilege strings, config class lists, event masks.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "shim.h"

namespace {

std::string privilege(int mask) { return take_str(ami_authority_to_str(mask)); }

// amid_perms_parse_list() with the unknown names as a string ("" = none).
int parse_list(const char *list, std::string *unknown)
{
	char *bad = reinterpret_cast<char *>(0x1); // must be overwritten
	int mask = amid_perms_parse_list(list, &bad);
	*unknown = bad ? bad : "";
	g_free(bad);
	return mask;
}

const char *const kEveryName =
	"system,call,log,verbose,command,agent,user,config,dtmf,reporting,cdr,"
	"dialplan,originate,agi,cc,aoc,test,security,message,all";

} // namespace

// ------------------------------------------------------------ Privilege

TEST(Privilege, ZeroIsNone) { EXPECT_EQ(privilege(0), "<none>"); }

TEST(Privilege, OneClassEndsWithAll)
{
	EXPECT_EQ(privilege(AMI_EVENT_FLAG_USER), "user,all");
	EXPECT_EQ(privilege(AMI_EVENT_FLAG_SYSTEM), "system,all");
	EXPECT_EQ(privilege(AMI_EVENT_FLAG_MESSAGE), "message,all");
}

TEST(Privilege, SeveralClassesInTableOrder)
{
	EXPECT_EQ(privilege(AMI_EVENT_FLAG_SYSTEM | AMI_EVENT_FLAG_REPORTING),
		  "system,reporting,all");
	// The order is the table's, not the bits' or the caller's.
	EXPECT_EQ(privilege(AMI_EVENT_FLAG_CONFIG | AMI_EVENT_FLAG_CALL |
			    AMI_EVENT_FLAG_SYSTEM),
		  "system,call,config,all");
	// cc (bit 15) comes after agi (bit 13), security before message.
	EXPECT_EQ(privilege(AMI_EVENT_FLAG_MESSAGE | AMI_EVENT_FLAG_SECURITY |
			    AMI_EVENT_FLAG_CC | AMI_EVENT_FLAG_AGI),
		  "agi,cc,security,message,all");
}

TEST(Privilege, HookresponseHasNoNameOfItsOwn)
{
	EXPECT_EQ(privilege(AMI_EVENT_FLAG_HOOKRESPONSE), "all");
	EXPECT_EQ(privilege(AMI_EVENT_FLAG_HOOKRESPONSE | AMI_EVENT_FLAG_CALL),
		  "call,all");
}

TEST(Privilege, AllListsEveryNameThenAll)
{
	EXPECT_EQ(privilege(AMI_EVENT_FLAG_ALL), kEveryName);
}

// ------------------------------------------------------------ class lists

TEST(ClassList, SingleAndSeveralNames)
{
	std::string bad;
	EXPECT_EQ(parse_list("user", &bad), AMI_EVENT_FLAG_USER);
	EXPECT_EQ(bad, "");
	EXPECT_EQ(parse_list("system,call,log", &bad),
		  AMI_EVENT_FLAG_SYSTEM | AMI_EVENT_FLAG_CALL | AMI_EVENT_FLAG_LOG);
	EXPECT_EQ(bad, "");
}

TEST(ClassList, TrimmedAndCaseInsensitive)
{
	std::string bad;
	EXPECT_EQ(parse_list(" system ,\tCALL , Log", &bad),
		  AMI_EVENT_FLAG_SYSTEM | AMI_EVENT_FLAG_CALL | AMI_EVENT_FLAG_LOG);
	EXPECT_EQ(bad, "");
}

TEST(ClassList, AllNoneAndEmpty)
{
	std::string bad;
	EXPECT_EQ(parse_list("all", &bad), AMI_EVENT_FLAG_ALL);
	EXPECT_EQ(parse_list("ALL", &bad), AMI_EVENT_FLAG_ALL);
	EXPECT_EQ(parse_list("none", &bad), 0);
	EXPECT_EQ(bad, "");
	EXPECT_EQ(parse_list("", &bad), 0);
	EXPECT_EQ(bad, "");
	EXPECT_EQ(parse_list("none,user", &bad), AMI_EVENT_FLAG_USER);
	EXPECT_EQ(parse_list(",call,,", &bad), AMI_EVENT_FLAG_CALL); // empty parts skipped
	EXPECT_EQ(bad, "");
	EXPECT_EQ(parse_list(nullptr, &bad), 0);
	EXPECT_EQ(bad, "");
}

TEST(ClassList, UnknownNamesReportedAndNotGranted)
{
	std::string bad;
	EXPECT_EQ(parse_list("system, bogus ,alsobad", &bad), AMI_EVENT_FLAG_SYSTEM);
	EXPECT_EQ(bad, "bogus,alsobad");
	// hookresponse has a bit but no name.
	EXPECT_EQ(parse_list("hookresponse", &bad), 0);
	EXPECT_EQ(bad, "hookresponse");
	// Unknown names without anywhere to report them.
	EXPECT_EQ(amid_perms_parse_list("call,nonsense", nullptr), AMI_EVENT_FLAG_CALL);
}

TEST(ClassList, NoPrefixMatching)
{
	// Asterisk's matcher would grant agent, agi, aoc and all for "a,log".
	std::string bad;
	EXPECT_EQ(parse_list("a,log", &bad), AMI_EVENT_FLAG_LOG);
	EXPECT_EQ(bad, "a");
	// ... and call, command, config, cdr and cc for "c".
	EXPECT_EQ(parse_list("c", &bad), 0);
	EXPECT_EQ(bad, "c");
	EXPECT_EQ(parse_list("systems,use", &bad), 0);
	EXPECT_EQ(bad, "systems,use");
}

TEST(ClassList, ClassBit)
{
	EXPECT_EQ(amid_perms_class_bit("user"), AMI_EVENT_FLAG_USER);
	EXPECT_EQ(amid_perms_class_bit("Reporting"), AMI_EVENT_FLAG_REPORTING);
	EXPECT_EQ(amid_perms_class_bit("message"), AMI_EVENT_FLAG_MESSAGE);
	EXPECT_EQ(amid_perms_class_bit("all"), AMI_EVENT_FLAG_ALL);
	EXPECT_EQ(amid_perms_class_bit("hookresponse"), 0);
	EXPECT_EQ(amid_perms_class_bit("us"), 0);
	EXPECT_EQ(amid_perms_class_bit(""), 0);
}

// ------------------------------------------------------------ event masks

TEST(EventMask, EmptyIsInvalid)
{
	EXPECT_EQ(ami_parse_event_mask(""), -1);
	EXPECT_EQ(ami_parse_event_mask(nullptr), -1);
}

TEST(EventMask, TrueWordsMeanEverything)
{
	for (const char *w : {"on", "yes", "true", "1", "y", "t", "ON", "Yes", "TRUE"})
		EXPECT_EQ(ami_parse_event_mask(w), AMI_EVENT_FLAG_ALL) << w;
}

TEST(EventMask, FalseWordsMeanNothing)
{
	for (const char *w : {"off", "no", "0", "false", "n", "f", "OFF", "No"})
		EXPECT_EQ(ami_parse_event_mask(w), 0) << w;
}

TEST(EventMask, DigitsAreADecimalMask)
{
	EXPECT_EQ(ami_parse_event_mask("64"), 64);
	EXPECT_EQ(ami_parse_event_mask("3"), AMI_EVENT_FLAG_SYSTEM | AMI_EVENT_FLAG_CALL);
	EXPECT_EQ(ami_parse_event_mask("1024"), AMI_EVENT_FLAG_CDR);
	EXPECT_EQ(ami_parse_event_mask("2147483647"), AMI_EVENT_FLAG_ALL);
	// Never negative: bits above "all" are dropped.
	EXPECT_GE(ami_parse_event_mask("99999999999"), 0);
}

TEST(EventMask, ClassNames)
{
	EXPECT_EQ(ami_parse_event_mask("system,user"),
		  AMI_EVENT_FLAG_SYSTEM | AMI_EVENT_FLAG_USER);
	EXPECT_EQ(ami_parse_event_mask("call"), AMI_EVENT_FLAG_CALL);
	EXPECT_EQ(ami_parse_event_mask("all"), AMI_EVENT_FLAG_ALL);
	EXPECT_EQ(ami_parse_event_mask("bogus"), 0); // unknown → no events
	EXPECT_EQ(ami_parse_event_mask("-1"), 0);
}

// ------------------------------------------------------------ delivery

TEST(EffectiveMask, IsReadPermAndRequestedMask)
{
	AmiSession s;
	memset(&s, 0, sizeof(s));
	s.readperm = AMI_EVENT_FLAG_SYSTEM | AMI_EVENT_FLAG_CALL;
	s.event_mask = AMI_EVENT_FLAG_ALL;
	EXPECT_EQ(amid_session_effective_mask(&s),
		  AMI_EVENT_FLAG_SYSTEM | AMI_EVENT_FLAG_CALL);
	s.event_mask = AMI_EVENT_FLAG_CALL | AMI_EVENT_FLAG_USER;
	EXPECT_EQ(amid_session_effective_mask(&s), AMI_EVENT_FLAG_CALL);
	s.event_mask = 0; // Events: off
	EXPECT_EQ(amid_session_effective_mask(&s), 0);
	s.readperm = 0; // read = none
	s.event_mask = AMI_EVENT_FLAG_ALL;
	EXPECT_EQ(amid_session_effective_mask(&s), 0);
}
