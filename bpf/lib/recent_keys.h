/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* recent_keys.h - which packet keys started an entry lately: a bit set per
 * time generation, so that a stage asks the in-flight map (MB_SLOTS hash
 * lookups) only for packets that may have an entry. The outer device's
 * egress stage sees every packet the host sends there; those of the host and
 * of untraced containers then cost two loads instead of lookups that miss.
 *
 *   mb_recent_add(sets, epoch, h, now, period)
 *       a key with hash h (mb_key_hash) started now
 *   mb_recent_maybe(sets, h, now, period)
 *       whether such a key may have started in the last period (at least)
 *
 * sets: __u64 [MB_RECENT_SETS][MB_RECENT_WORDS], epoch: a __u64, both global
 * (zero at load; plain arrays, so that the skeleton needs no type of ours).
 *
 * Time is cut into epochs of `period`; a key sets its bit in the set of its
 * epoch (4 sets, by epoch & 3), a lookup tests the current epoch's set and
 * the one before, so a key is found for at least `period` after it started.
 * The first add of an epoch clears the set of the epoch after next, which
 * no CPU uses before then, even one whose clock read was a moment before the
 * boundary (so a key is missed only past `period` of age). Answers can be
 * false positives only: bits of epochs without adds stay until their set is
 * cleared again, and unrelated keys share bits; the in-flight map then
 * decides, as without the set. */
#ifndef MB_LIB_RECENT_KEYS_H
#define MB_LIB_RECENT_KEYS_H

#define MB_RECENT_SETS 4
#define MB_RECENT_WORDS 1024 /* 65536 bits (8 KiB) per set */

typedef __u64 mb_recent_set[MB_RECENT_WORDS];

static __always_inline __u64 *mb_recent_word(mb_recent_set *sets, __u64 epoch, __u32 h)
{
	return &sets[epoch & (MB_RECENT_SETS - 1)][(h >> 6) & (MB_RECENT_WORDS - 1)];
}

/* epoch: the latest epoch that cleared a set */
static __always_inline void mb_recent_add(mb_recent_set *sets, __u64 *epoch, __u32 h, __u64 now, __u64 period)
{
	__u64 e = now / period, bit = 1ull << (h & 63);
	__u64 *w = mb_recent_word(sets, e, h);

	if (!(*w & bit)) /* a set bit is left alone: no write to a line other CPUs read */
		__sync_fetch_and_or(w, bit);
	if ((__s64)(e - *epoch) <= 0)
		return;
	*epoch = e;
	__u64 *later = sets[(e + 2) & (MB_RECENT_SETS - 1)];

	for (int i = 0; i < MB_RECENT_WORDS; i++)
		later[i] = 0;
}

static __always_inline bool mb_recent_maybe(mb_recent_set *sets, __u32 h, __u64 now, __u64 period)
{
	__u64 e = now / period, bit = 1ull << (h & 63);

	return (*mb_recent_word(sets, e, h) & bit) || (*mb_recent_word(sets, e - 1, h) & bit);
}

#endif
