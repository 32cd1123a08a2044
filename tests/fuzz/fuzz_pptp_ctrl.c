/*
 * fuzz_pptp_ctrl.c — libFuzzer target for tunneld/pptp/pptp_codec and tunneld/pptp/pptp_ctrl.
 *
 * Input: byte 0 picks the mode (0: codec only, 1: state machine after a good handshake,
 * 2: state machine right after "connected"); the rest is a script of operations:
 *   0x00..0xef  feed the next N octets (fewer if the input ends) — the fuzzer picks the splits
 *   0xf0..0xf7  timer tick, advancing the clock by 0.1 s .. 120 s
 *   0xf8 shutdown   0xf9 clear call   0xfa drain all output   0xfb drain one message
 *   0xfc connection lost   0xfd..0xff feed everything that is left
 * The codec also decodes the whole input as a stream and checks encode(decode(x)) is a fixed
 * point. Invariants (trap on violation): every octet the client queues decodes as a complete
 * message, "closed" comes at most once and last, "cleared" at most once and only after
 * "established".
 * Seeds: tests/fuzz/corpus/pptp_ctrl/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "pptp_ctrl.h"

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

struct seen { int established, cleared, closed; };

static void on_established(void *arg, const struct pptp_call_info *call)
{
	struct seen *s = arg;
	CHECK(s->closed == 0 && s->established == 0);
	CHECK(call->local_call_id == 0x0101);
	s->established++;
}

static void on_cleared(void *arg, const char *reason)
{
	struct seen *s = arg;
	CHECK(s->closed == 0 && s->cleared == 0 && s->established == 1);
	CHECK(reason != NULL && strlen(reason) < PPTP_CTRL_REASON_LEN);
	s->cleared++;
}

static void on_closed(void *arg, const char *reason)
{
	struct seen *s = arg;
	CHECK(s->closed == 0);
	CHECK(s->cleared == s->established);   /* a call still up is cleared first */
	CHECK(reason != NULL && reason[0] != '\0' && strlen(reason) < PPTP_CTRL_REASON_LEN);
	s->closed++;
}

static void fuzz_codec(const uint8_t *data, size_t size)
{
	struct pptp_msg m, m2;
	uint8_t b1[PPTP_MAX_MSG_LEN], b2[PPTP_MAX_MSG_LEN];
	char why[PPTP_REASON_LEN];
	size_t used;

	while (size > 0) {
		enum pptp_decode_status st = pptp_decode(data, size, &m, &used, why);
		if (st != PPTP_DECODE_COMPLETE) {
			CHECK(used == 0);
			if (st == PPTP_DECODE_MALFORMED)
				CHECK(why[0] != '\0' && strlen(why) < PPTP_REASON_LEN);
			return;
		}
		CHECK(used >= PPTP_HEADER_LEN && used <= PPTP_MAX_MSG_LEN && used <= size);
		if (pptp_msg_len(m.type) != 0) {
			size_t n1 = pptp_encode(&m, b1, sizeof(b1)), n2;
			CHECK(n1 == used);
			CHECK(pptp_decode(b1, n1, &m2, &n2, why) == PPTP_DECODE_COMPLETE && n2 == n1);
			n2 = pptp_encode(&m2, b2, sizeof(b2));
			CHECK(n2 == n1 && memcmp(b1, b2, n1) == 0);
		}
		data += used;
		size -= used;
	}
}

/* Checks and removes one whole message from the front of the client's output. */
static int drain_one(struct pptp_ctrl *c)
{
	size_t len, used;
	const uint8_t *out = pptp_ctrl_output(c, &len);
	struct pptp_msg m;
	char why[PPTP_REASON_LEN];

	if (len == 0)
		return 0;
	CHECK(pptp_decode(out, len, &m, &used, why) == PPTP_DECODE_COMPLETE);
	CHECK(pptp_msg_len(m.type) == used);
	pptp_ctrl_consume(c, used);
	return 1;
}

static void drain_all(struct pptp_ctrl *c)
{
	while (drain_one(c))
		;
}

static void feed(struct pptp_ctrl *c, const struct pptp_msg *m, uint64_t now)
{
	uint8_t b[PPTP_MAX_MSG_LEN];
	size_t n = pptp_encode(m, b, sizeof(b));
	pptp_ctrl_input(c, b, n, now);
}

static void fuzz_ctrl(const uint8_t *data, size_t size, int handshake)
{
	static const uint32_t advance_ms[8] = { 100, 1000, 5000, 10000, 30000, 60000, 61000, 120000 };
	static struct pptp_ctrl c;   /* 8 KB: keep it off the stack */
	struct pptp_ctrl_config cfg;
	struct seen s = { 0, 0, 0 };
	struct pptp_ctrl_hooks h = { on_established, on_cleared, on_closed, &s };
	uint64_t now = 1000;

	pptp_ctrl_config_defaults(&cfg);
	cfg.call_id = 0x0101;
	pptp_ctrl_init(&c, &cfg, &h);
	pptp_ctrl_connected(&c, now);
	drain_all(&c);
	if (handshake) {
		struct pptp_msg m = { .type = PPTP_SCCRP };
		m.u.sccrp.version = PPTP_PROTOCOL_VERSION;
		m.u.sccrp.result = PPTP_SCCRP_OK;
		feed(&c, &m, now);
		memset(&m, 0, sizeof(m));
		m.type = PPTP_OCRP;
		m.u.ocrp.call_id = 0x0a0a;
		m.u.ocrp.peer_call_id = 0x0101;
		m.u.ocrp.result = PPTP_OCRP_CONNECTED;
		feed(&c, &m, now);
		CHECK(pptp_ctrl_state(&c) == PPTP_ST_ESTABLISHED && s.established == 1);
		drain_all(&c);
	}

	while (size > 0) {
		uint8_t op = *data++;
		size--;
		if (op < 0xf0 || op >= 0xfd) {
			size_t n = op < 0xf0 ? (op < size ? op : size) : size;
			pptp_ctrl_input(&c, data, n, now);
			data += n;
			size -= n;
		} else if (op < 0xf8) {
			now += advance_ms[op & 7];
			pptp_ctrl_tick(&c, now);
		} else if (op == 0xf8) {
			pptp_ctrl_shutdown(&c, now);
		} else if (op == 0xf9) {
			pptp_ctrl_clear_call(&c, now);
		} else if (op == 0xfa) {
			drain_all(&c);
		} else if (op == 0xfb) {
			drain_one(&c);
		} else {
			pptp_ctrl_lost(&c, "fuzz");
		}
		if (pptp_ctrl_state(&c) == PPTP_ST_CLOSED)
			CHECK(s.closed == 1 && pptp_ctrl_next_deadline(&c) == 0);
	}
	drain_all(&c);
	/* Whatever happened, shutting down and time passing always ends in CLOSED. */
	pptp_ctrl_shutdown(&c, now);
	pptp_ctrl_tick(&c, now + 3600000);
	pptp_ctrl_tick(&c, now + 7200000);
	CHECK(pptp_ctrl_state(&c) == PPTP_ST_CLOSED && s.closed == 1);
	CHECK(s.cleared == s.established);
	drain_all(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;

	if (!once) {
		log_init("fuzz_pptp_ctrl", LOG_TO_STDERR, LOG_LVL_ERR);
		once = 1;
	}
	if (size == 0)
		return 0;
	fuzz_codec(data + 1, size - 1);
	if (data[0] % 3 != 0)
		fuzz_ctrl(data + 1, size - 1, data[0] % 3 == 1);
	return 0;
}
