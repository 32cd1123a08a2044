/*
 * queue_id.h — queue IDs for mailrelayd's spool.
 *
 * A queue ID names one message everywhere: its spool files (<qid>.data, and <qid>.env once
 * its envelope was rewritten) and every log line ("id=<qid>"). It is 20 lowercase hex digits:
 *   13 digits  arrival time in microseconds since the epoch (good until the year 2112)
 *    3 digits  a counter, so IDs made in the same microsecond stay distinct and ordered
 *    4 digits  random, so two processes sharing a spool by mistake still do not collide
 * Sorting IDs as strings sorts messages by arrival. IDs are strictly increasing within one
 * generator even when the clock steps back (the generator never goes below the last time).
 */
#ifndef MAILTUN_QUEUE_ID_H
#define MAILTUN_QUEUE_ID_H

#include <stdbool.h>
#include <stdint.h>

#define QUEUE_ID_LEN 20
#define QUEUE_ID_SIZE (QUEUE_ID_LEN + 1)

struct queue_id_gen {
    uint64_t last_us;   /* time part of the last ID handed out */
    unsigned counter;   /* counter part of the last ID */
};

/* Pure core: the next ID after the generator's state, for a clock reading and a random value. */
void queue_id_make(struct queue_id_gen *g, uint64_t now_us, uint32_t rnd, char out[QUEUE_ID_SIZE]);

/* Same, reading CLOCK_REALTIME and getrandom(). */
void queue_id_next(struct queue_id_gen *g, char out[QUEUE_ID_SIZE]);

/* Makes the generator never hand out an ID at or below qid (after loading a spool). */
void queue_id_seed(struct queue_id_gen *g, const char *qid);

/* True if s is exactly a well-formed queue ID (so it is safe as a file name). */
bool queue_id_valid(const char *s);

/* True if the first QUEUE_ID_LEN bytes of s form a queue ID (s may continue, e.g. ".env"). */
bool queue_id_prefix_valid(const char *s);

/* Arrival time encoded in a valid ID, in seconds since the epoch. */
int64_t queue_id_time(const char *qid);

#endif
