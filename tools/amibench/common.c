/* Clock, latency histogram, report output, /proc readers, error notes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "amibench.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ clock */

int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

double secs(int64_t ns)
{
	return (double)ns / 1e9;
}

/* ------------------------------------------------------------ histogram */

static int hist_index(uint64_t v)
{
	if (v < (1u << HIST_SUB_BITS))
		return (int)v;
	int msb = 63 - __builtin_clzll(v);
	int shift = msb - HIST_SUB_BITS;
	return ((shift + 1) << HIST_SUB_BITS) +
	       (int)((v >> shift) & ((1u << HIST_SUB_BITS) - 1));
}

/* Midpoint of bucket @i. */
static double hist_value(int i)
{
	if (i < (1 << HIST_SUB_BITS))
		return i;
	int shift = (i >> HIST_SUB_BITS) - 1;
	uint64_t low = (uint64_t)(i & ((1 << HIST_SUB_BITS) - 1));
	double base = (double)(((1ull << HIST_SUB_BITS) + low) << shift);
	return base + (double)(1ull << shift) / 2.0;
}

void hist_init(Hist *h)
{
	memset(h, 0, sizeof(*h));
	h->b = g_new0(uint64_t, HIST_BUCKETS);
	h->min = UINT64_MAX;
}

void hist_free(Hist *h)
{
	g_free(h->b);
	h->b = NULL;
}

void hist_reset(Hist *h)
{
	memset(h->b, 0, sizeof(uint64_t) * HIST_BUCKETS);
	h->n = 0;
	h->max = 0;
	h->min = UINT64_MAX;
	h->sum = 0;
}

void hist_add(Hist *h, int64_t ns)
{
	uint64_t v = ns < 0 ? 0 : (uint64_t)ns;
	h->b[hist_index(v)]++;
	h->n++;
	h->sum += (double)v;
	if (v > h->max)
		h->max = v;
	if (v < h->min)
		h->min = v;
}

void hist_merge(Hist *into, const Hist *from)
{
	for (int i = 0; i < HIST_BUCKETS; i++)
		into->b[i] += from->b[i];
	into->n += from->n;
	into->sum += from->sum;
	if (from->max > into->max)
		into->max = from->max;
	if (from->min < into->min)
		into->min = from->min;
}

double hist_q(const Hist *h, double q)
{
	if (!h->n)
		return 0;
	uint64_t rank = (uint64_t)ceil(q * (double)h->n);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (int i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			double v = hist_value(i);
			return v > (double)h->max ? (double)h->max : v;
		}
	}
	return (double)h->max;
}

/* ------------------------------------------------------------ report */

void report_begin(Report *r, const char *mode)
{
	r->table = g_string_new(NULL);
	r->json = g_string_new("{");
	json_str(r, "mode", mode);
	if (opt.label)
		json_str(r, "label", opt.label);
}

void report_title(Report *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_string_append_vprintf(r->table, fmt, ap);
	va_end(ap);
	g_string_append_c(r->table, '\n');
}

void report_row(Report *r, const char *label, const char *fmt, ...)
{
	va_list ap;
	g_string_append_printf(r->table, "  %-30s ", label);
	va_start(ap, fmt);
	g_string_append_vprintf(r->table, fmt, ap);
	va_end(ap);
	g_string_append_c(r->table, '\n');
}

static void json_key(Report *r, const char *key)
{
	if (r->json->len > 1)
		g_string_append_c(r->json, ',');
	g_string_append_printf(r->json, "\"%s\":", key);
}

void json_int(Report *r, const char *key, long long v)
{
	json_key(r, key);
	g_string_append_printf(r->json, "%lld", v);
}

void json_num(Report *r, const char *key, double v)
{
	json_key(r, key);
	if (!isfinite(v))
		g_string_append(r->json, "null");
	else if (fabs(v) >= 1e15 || v == floor(v))
		g_string_append_printf(r->json, "%.0f", v);
	else
		g_string_append_printf(r->json, "%.3f", v);
}

void json_str(Report *r, const char *key, const char *v)
{
	json_key(r, key);
	g_string_append_c(r->json, '"');
	for (const char *p = v ? v : ""; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '"' || ch == '\\')
			g_string_append_printf(r->json, "\\%c", ch);
		else if (ch < 0x20)
			g_string_append_printf(r->json, "\\u%04x", ch);
		else
			g_string_append_c(r->json, (char)ch);
	}
	g_string_append_c(r->json, '"');
}

void json_bool(Report *r, const char *key, bool v)
{
	json_key(r, key);
	g_string_append(r->json, v ? "true" : "false");
}

void report_hist(Report *r, const char *label, const char *prefix,
		 const Hist *h)
{
	char key[64];
	double p50 = hist_q(h, 0.5) / 1e3, p99 = hist_q(h, 0.99) / 1e3,
	       p999 = hist_q(h, 0.999) / 1e3, mx = (double)h->max / 1e3;
	report_row(r, label,
		   "p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f us  (%" PRIu64
		   " samples)",
		   p50, p99, p999, mx, h->n);
	g_snprintf(key, sizeof(key), "%sp50_us", prefix);
	json_num(r, key, round(p50 * 10) / 10);
	g_snprintf(key, sizeof(key), "%sp99_us", prefix);
	json_num(r, key, round(p99 * 10) / 10);
	g_snprintf(key, sizeof(key), "%sp999_us", prefix);
	json_num(r, key, round(p999 * 10) / 10);
	g_snprintf(key, sizeof(key), "%smax_us", prefix);
	json_num(r, key, round(mx * 10) / 10);
}

void report_end(Report *r)
{
	if (error_count()) {
		report_row(r, "errors", "%ld (first: %s)", error_count(),
			   first_error());
		json_int(r, "errors", error_count());
		json_str(r, "first_error", first_error());
	} else {
		json_int(r, "errors", 0);
	}
	g_string_append_c(r->json, '}');
	fputs(r->table->str, stdout);
	printf("JSON %s\n", r->json->str);
	fflush(stdout);
	g_string_free(r->table, TRUE);
	g_string_free(r->json, TRUE);
}

int report_fail(const char *mode, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "amibench %s: %s\n", mode, msg);
	Report r;
	report_begin(&r, mode);
	json_bool(&r, "failed", true);
	json_str(&r, "reason", msg);
	g_string_truncate(r.table, 0);
	report_end(&r);
	g_free(msg);
	return 1;
}

/* ------------------------------------------------------------ /proc */

long proc_rss_kib(int pid)
{
	if (pid <= 0)
		return -1;
	char path[64], line[256];
	g_snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long v = -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6)) {
			v = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

double proc_cpu_s(int pid)
{
	if (pid <= 0)
		return -1;
	char path[64], buf[1024];
	g_snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after "(comm)": state is field 3, utime 14, stime 15. */
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	p += 2;
	unsigned long ut = 0, st = 0;
	int field = 3;
	char *save = NULL;
	for (char *tok = strtok_r(p, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save), field++) {
		if (field == 14)
			ut = strtoul(tok, NULL, 10);
		else if (field == 15) {
			st = strtoul(tok, NULL, 10);
			break;
		}
	}
	long hz = sysconf(_SC_CLK_TCK);
	return (double)(ut + st) / (double)(hz > 0 ? hz : 100);
}

double proc_sched_s(int pid, long long *runs)
{
	if (runs)
		*runs = -1;
	if (pid <= 0)
		return -1;
	char path[64];
	g_snprintf(path, sizeof(path), "/proc/%d/task", pid);
	GDir *d = g_dir_open(path, 0, NULL);
	if (!d)
		return -1;
	unsigned long long ns = 0, n = 0;
	int ok = 0;
	const char *tid;
	while ((tid = g_dir_read_name(d))) {
		char p[96], buf[128];
		g_snprintf(p, sizeof(p), "/proc/%d/task/%s/schedstat", pid, tid);
		FILE *f = fopen(p, "r");
		if (!f)
			continue;
		unsigned long long run = 0, wait = 0, slices = 0;
		if (fgets(buf, sizeof(buf), f) &&
		    sscanf(buf, "%llu %llu %llu", &run, &wait, &slices) == 3) {
			ns += run;
			n += slices;
			ok = 1;
		}
		fclose(f);
	}
	g_dir_close(d);
	if (!ok)
		return -1;
	if (runs)
		*runs = (long long)n;
	return (double)ns / 1e9;
}

double self_cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -1;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ------------------------------------------------------------ errors */

static GMutex err_lock;
static char *err_first;
static long err_count;

void note_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_mutex_lock(&err_lock);
	err_count++;
	if (!err_first) {
		err_first = msg;
		msg = NULL;
	}
	g_mutex_unlock(&err_lock);
	g_free(msg);
}

const char *first_error(void)
{
	return err_first ? err_first : "";
}

long error_count(void)
{
	return err_count;
}
