/*
 * hash.c: a map from 64-bit keys (socket cookies, inodes, pids) to
 * pointers, for sockd's tables.  Chained buckets, doubled when the load
 * passes two; the map never owns the values.  Allocation failure is
 * fatal, as everywhere in sockd.
 */

#include <stdlib.h>

#include "sockd.h"

#define HMAP_MIN	256

static size_t
hmap_slot(const struct hmap *h, uint64_t key)
{
	/* Fibonacci hashing: inodes and pids are dense, cookies are not. */
	return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 32) & (h->nb - 1);
}

void
hmap_init(struct hmap *h)
{
	h->nb = HMAP_MIN;
	h->n = 0;
	if ((h->b = calloc(h->nb, sizeof(*h->b))) == NULL)
		fatal("hmap_init");
}

void
hmap_free(struct hmap *h)
{
	struct hmap_ent	*e, *next;
	size_t		 i;

	for (i = 0; i < h->nb; i++)
		for (e = h->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(h->b);
	h->b = NULL;
	h->nb = h->n = 0;
}

static void
hmap_grow(struct hmap *h)
{
	struct hmap_ent	**ob = h->b, *e, *next;
	size_t		 onb = h->nb, i, s;

	h->nb = onb * 2;
	if ((h->b = calloc(h->nb, sizeof(*h->b))) == NULL)
		fatal("hmap_grow");
	for (i = 0; i < onb; i++)
		for (e = ob[i]; e != NULL; e = next) {
			next = e->next;
			s = hmap_slot(h, e->key);
			e->next = h->b[s];
			h->b[s] = e;
		}
	free(ob);
}

void *
hmap_get(const struct hmap *h, uint64_t key)
{
	struct hmap_ent	*e;

	for (e = h->b[hmap_slot(h, key)]; e != NULL; e = e->next)
		if (e->key == key)
			return e->val;
	return NULL;
}

/* Sets key to val; returns 1 when the key was new. */
int
hmap_put(struct hmap *h, uint64_t key, void *val)
{
	struct hmap_ent	*e;
	size_t		 s = hmap_slot(h, key);

	for (e = h->b[s]; e != NULL; e = e->next)
		if (e->key == key) {
			e->val = val;
			return 0;
		}
	if ((e = malloc(sizeof(*e))) == NULL)
		fatal("hmap_put");
	e->key = key;
	e->val = val;
	e->next = h->b[s];
	h->b[s] = e;
	if (++h->n > h->nb * 2)
		hmap_grow(h);
	return 1;
}

void *
hmap_del(struct hmap *h, uint64_t key)
{
	struct hmap_ent	**pp, *e;
	void		*val;

	for (pp = &h->b[hmap_slot(h, key)]; (e = *pp) != NULL;
	    pp = &e->next)
		if (e->key == key) {
			*pp = e->next;
			val = e->val;
			free(e);
			h->n--;
			return val;
		}
	return NULL;
}

void
hmap_walk(struct hmap *h, int (*fn)(uint64_t, void *, void *), void *arg)
{
	struct hmap_ent	**pp, *e;
	size_t		 i;

	for (i = 0; i < h->nb; i++)
		for (pp = &h->b[i]; (e = *pp) != NULL; ) {
			if (fn(e->key, e->val, arg)) {
				*pp = e->next;
				free(e);
				h->n--;
			} else
				pp = &e->next;
		}
}
