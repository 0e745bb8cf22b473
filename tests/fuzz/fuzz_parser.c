/*
 * libFuzzer harness: the AMI message parser.  The first input byte chooses
 * how the rest is cut into reads, so split lines and CR/LF pairs across
 * reads are explored too.  Every message is read back through the header
 * accessors the dispatcher uses.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inspect(const AmiMessage *m)
{
	(void)ami_get_header(m, "Action");
	(void)ami_get_header(m, "ActionID");
	(void)amid_message_action(m);
	(void)amid_message_flag_error(m->flags);
	for (guint i = 0; i < ami_message_line_count(m); i++)
		(void)strlen(ami_message_line(m, i));
	GPtrArray *vars = ami_get_variables(m);
	g_ptr_array_unref(vars);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t chunk = (size_t)data[0] + 1;
	data++;
	size--;

	AmidParser p;
	amid_parser_init(&p);
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		amid_parser_feed(&p, data + off, n);
		for (;;) {
			AmiMessage *m;
			AmidParseResult r = amid_parser_next(&p, &m);
			if (r == AMID_PARSE_MESSAGE) {
				inspect(m);
				continue;
			}
			if (r == AMID_PARSE_ABUSE)
				goto out;
			break;
		}
		amid_parser_shrink(&p);
	}
out:
	amid_parser_clear(&p);
	return 0;
}
