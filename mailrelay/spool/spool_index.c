/*
 * spool_index.c — the in-memory index of spooled messages, sorted by queue id (arrival order),
 * and the read-only queries over it (count, lookup, due iteration).
 *
 * Called by spool.c, spool_commit.c and spool_recover.c; calls only envelope.c. Needs: nothing else.
 */
#include "spool_internal.h"

#include <stdlib.h>
#include <string.h>

void spool_entry_free(struct spool_entry *e)
{
    if (!e)
        return;
    envelope_free(&e->env);
    free(e);
}

struct spool_entry *spool_index_find(const struct spool *sp, const char *qid, size_t *pos)
{
    size_t lo = 0, hi = sp->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(sp->idx[mid]->env.qid, qid);

        if (c == 0) {
            if (pos)
                *pos = mid;
            return sp->idx[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos)
        *pos = lo;
    return NULL;
}

int spool_index_add(struct spool *sp, struct spool_entry *e)
{
    size_t pos;

    if (spool_index_find(sp, e->env.qid, &pos))
        return SPOOL_ERR_INVALID;
    if (sp->n == sp->cap) {
        size_t cap = sp->cap ? sp->cap * 2 : 64;
        struct spool_entry **v = realloc(sp->idx, cap * sizeof(*v));

        if (!v)
            return SPOOL_ERR_NOMEM;
        sp->idx = v;
        sp->cap = cap;
    }
    memmove(&sp->idx[pos + 1], &sp->idx[pos], (sp->n - pos) * sizeof(*sp->idx));
    sp->idx[pos] = e;
    sp->n++;
    e->due = envelope_next_due(&e->env);
    return SPOOL_OK;
}

void spool_index_remove_at(struct spool *sp, size_t pos)
{
    spool_entry_free(sp->idx[pos]);
    memmove(&sp->idx[pos], &sp->idx[pos + 1], (sp->n - pos - 1) * sizeof(*sp->idx));
    sp->n--;
}

size_t spool_count(const struct spool *sp)
{
    return sp->n;
}

const struct spool_entry *spool_entry_at(const struct spool *sp, size_t i)
{
    return i < sp->n ? sp->idx[i] : NULL;
}

const struct spool_entry *spool_lookup(const struct spool *sp, const char *qid)
{
    return spool_index_find(sp, qid, NULL);
}

size_t spool_due(const struct spool *sp, int64_t now, char (*ids)[QUEUE_ID_SIZE], size_t max)
{
    size_t k = 0;

    for (size_t i = 0; i < sp->n && k < max; i++)
        if (sp->idx[i]->place == SPOOL_QUEUED && sp->idx[i]->due <= now)
            memcpy(ids[k++], sp->idx[i]->env.qid, QUEUE_ID_SIZE);
    return k;
}

int64_t spool_next_due(const struct spool *sp)
{
    int64_t due = INT64_MAX;

    for (size_t i = 0; i < sp->n; i++)
        if (sp->idx[i]->place == SPOOL_QUEUED && sp->idx[i]->due < due)
            due = sp->idx[i]->due;
    return due;
}
