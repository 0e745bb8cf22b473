// The per-session output queue, written to one end of a socketpair.
#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include "shim.h"

namespace {

GBytes *bytes(const std::string &s) { return g_bytes_new(s.data(), s.size()); }

// Queue a copy of @s (the queue keeps its own reference).
void push(AmidOutQueue *q, const std::string &s)
{
	GBytes *b = bytes(s);
	amid_outqueue_push(q, b);
	g_bytes_unref(b);
}

void set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	ASSERT_GE(fl, 0);
	ASSERT_EQ(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

// Content that differs at every offset, so a resume at a wrong offset shows.
std::string item(int i, size_t len)
{
	std::string s;
	s.reserve(len);
	for (size_t k = 0; k < len; k++)
		s.push_back(static_cast<char>('A' + (i * 7 + k) % 26));
	return s;
}

class OutQueue : public ::testing::Test {
protected:
	AmidOutQueue q{};
	int wfd = -1, rfd = -1;

	void SetUp() override
	{
		int sv[2];
		ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		wfd = sv[0];
		rfd = sv[1];
		set_nonblocking(wfd);
		set_nonblocking(rfd);
	}

	void TearDown() override
	{
		amid_outqueue_clear(&q);
		if (wfd >= 0)
			close(wfd);
		if (rfd >= 0)
			close(rfd);
	}

	// Everything the reader end has right now.
	std::string read_all()
	{
		std::string out;
		char buf[65536];
		for (;;) {
			ssize_t n = read(rfd, buf, sizeof(buf));
			if (n <= 0)
				break;
			out.append(buf, static_cast<size_t>(n));
		}
		return out;
	}

	void small_sndbuf()
	{
		int sz = 4096; // the kernel doubles it and applies its minimum
		ASSERT_EQ(setsockopt(wfd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	}
};

bool freed_flag;
void mark_freed(gpointer) { freed_flag = true; }

} // namespace

TEST_F(OutQueue, OrderPreserved)
{
	push(&q, "Response: Success\r\n");
	push(&q, "Ping: Pong\r\n");
	push(&q, "\r\n");
	EXPECT_EQ(q.count, 3u);
	EXPECT_EQ(amid_outqueue_flush(&q, wfd), 33);
	EXPECT_EQ(read_all(), "Response: Success\r\nPing: Pong\r\n\r\n");
	EXPECT_EQ(q.count, 0u);
	EXPECT_EQ(q.bytes, 0u);
	EXPECT_EQ(q.first_off, 0u);
}

TEST_F(OutQueue, BytesAccounting)
{
	EXPECT_EQ(q.bytes, 0u);
	push(&q, "12345");
	EXPECT_EQ(q.bytes, 5u);
	push(&q, "abc");
	EXPECT_EQ(q.bytes, 8u);
	push(&q, ""); // empty items are not queued
	EXPECT_EQ(q.bytes, 8u);
	EXPECT_EQ(q.count, 2u);
	EXPECT_EQ(amid_outqueue_flush(&q, wfd), 8);
	EXPECT_EQ(q.bytes, 0u);
	EXPECT_EQ(read_all(), "12345abc");
}

TEST_F(OutQueue, FlushOfEmptyQueueWritesNothing)
{
	EXPECT_EQ(amid_outqueue_flush(&q, wfd), 0);
	EXPECT_EQ(read_all(), "");
}

TEST_F(OutQueue, PartialWritesResumeAtTheRightOffset)
{
	small_sndbuf();
	std::string expect;
	int next = 0;
	// Odd sizes, so that writes stop in the middle of items.
	for (; next < 200; next++) {
		std::string s = item(next, 1000 + static_cast<size_t>(next) * 13);
		push(&q, s);
		expect += s;
	}
	std::string got;
	int partial = 0, mid_item = 0, rounds = 0;
	while (q.count > 0) {
		ASSERT_LT(++rounds, 100000);
		gsize before = q.bytes;
		gssize w = amid_outqueue_flush(&q, wfd);
		if (w < 0) {
			ASSERT_EQ(errno, EAGAIN);
			EXPECT_EQ(q.bytes, before); // nothing consumed
		} else {
			EXPECT_EQ(q.bytes, before - static_cast<gsize>(w));
			if (q.count > 0)
				partial++;
			if (q.first_off > 0)
				mid_item++;
		}
		// More output arrives while the queue is partly written, so the
		// ring wraps and grows with its head away from 0.
		if (next < 260 && rounds % 3 == 0) {
			std::string s = item(next, 777);
			push(&q, s);
			expect += s;
			next++;
		}
		got += read_all();
	}
	got += read_all();
	EXPECT_GT(partial, 0);
	EXPECT_GT(mid_item, 0);
	EXPECT_EQ(q.bytes, 0u);
	EXPECT_EQ(got.size(), expect.size());
	EXPECT_TRUE(got == expect) << "stream differs from what was queued";
}

TEST_F(OutQueue, FullSocketIsEagainAndKeepsTheQueue)
{
	small_sndbuf();
	std::string big = item(1, 256 * 1024);
	push(&q, big);
	gssize w = amid_outqueue_flush(&q, wfd);
	ASSERT_GT(w, 0);
	ASSERT_LT(w, static_cast<gssize>(big.size()));
	EXPECT_EQ(q.first_off, static_cast<gsize>(w));
	EXPECT_EQ(q.bytes, big.size() - static_cast<gsize>(w));

	// Nothing read meanwhile: the socket is full.
	errno = 0;
	EXPECT_EQ(amid_outqueue_flush(&q, wfd), -1);
	EXPECT_EQ(errno, EAGAIN);
	EXPECT_EQ(q.count, 1u);
	EXPECT_EQ(q.first_off, static_cast<gsize>(w));

	// Drain the reader and finish.
	std::string got = read_all();
	while (q.count > 0) {
		amid_outqueue_flush(&q, wfd);
		got += read_all();
	}
	EXPECT_TRUE(got == big);
}

TEST_F(OutQueue, SharedBytesReleasedAfterFlush)
{
	// One event queued to two sessions.
	static const char text[] = "Event: X\r\nPrivilege: user,all\r\n\r\n";
	freed_flag = false;
	GBytes *ev = g_bytes_new_with_free_func(text, sizeof(text) - 1,
						mark_freed, nullptr);
	AmidOutQueue other{};
	amid_outqueue_push(&q, ev);
	amid_outqueue_push(&other, ev);
	g_bytes_unref(ev); // the publisher's reference
	EXPECT_FALSE(freed_flag);

	EXPECT_EQ(amid_outqueue_flush(&q, wfd), static_cast<gssize>(sizeof(text) - 1));
	EXPECT_FALSE(freed_flag); // still queued to the other session
	EXPECT_EQ(amid_outqueue_flush(&other, wfd),
		  static_cast<gssize>(sizeof(text) - 1));
	EXPECT_TRUE(freed_flag);
	EXPECT_EQ(read_all(), std::string(text) + text);
	amid_outqueue_clear(&other);
}

TEST_F(OutQueue, PartiallyWrittenItemKeepsItsReference)
{
	small_sndbuf();
	std::string big = item(3, 200 * 1024);
	freed_flag = false;
	GBytes *b = g_bytes_new_with_free_func(big.data(), big.size(), mark_freed,
					       nullptr);
	amid_outqueue_push(&q, b);
	g_bytes_unref(b);
	ASSERT_GT(amid_outqueue_flush(&q, wfd), 0);
	EXPECT_EQ(q.count, 1u);
	EXPECT_FALSE(freed_flag);
	std::string got = read_all();
	while (q.count > 0) {
		amid_outqueue_flush(&q, wfd);
		got += read_all();
	}
	EXPECT_TRUE(freed_flag);
	EXPECT_TRUE(got == big);
}

TEST_F(OutQueue, ClearDropsReferences)
{
	freed_flag = false;
	static const char text[] = "x";
	GBytes *b = g_bytes_new_with_free_func(text, 1, mark_freed, nullptr);
	amid_outqueue_push(&q, b);
	g_bytes_unref(b);
	push(&q, "more");
	EXPECT_FALSE(freed_flag);
	amid_outqueue_clear(&q);
	EXPECT_TRUE(freed_flag);
	EXPECT_EQ(q.count, 0u);
	EXPECT_EQ(q.bytes, 0u);
	EXPECT_EQ(q.items, nullptr);
	EXPECT_EQ(read_all(), "");
	// Usable again after a clear.
	push(&q, "again");
	EXPECT_EQ(amid_outqueue_flush(&q, wfd), 5);
	EXPECT_EQ(read_all(), "again");
}

TEST_F(OutQueue, MoreItemsThanIovMax)
{
	std::string expect;
	for (int i = 0; i < 3000; i++) {
		std::string s = std::to_string(i) + ",";
		push(&q, s);
		expect += s;
	}
	EXPECT_EQ(amid_outqueue_flush(&q, wfd), static_cast<gssize>(expect.size()));
	EXPECT_EQ(read_all(), expect);
	// A burst's big ring is given back once empty.
	EXPECT_EQ(q.count, 0u);
	EXPECT_EQ(q.items, nullptr);
	EXPECT_EQ(q.cap, 0u);
}

TEST_F(OutQueue, ClosedPeerIsAnErrorAndKeepsTheQueue)
{
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	close(rfd);
	rfd = -1;
	push(&q, "lost\r\n");
	errno = 0;
	EXPECT_EQ(amid_outqueue_flush(&q, wfd), -1);
	EXPECT_EQ(errno, EPIPE);
	EXPECT_EQ(q.count, 1u);
	EXPECT_EQ(q.bytes, 6u);
	signal(SIGPIPE, old);
}
