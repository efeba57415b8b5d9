/* The native search: modelcheck's compact-store BFS in C, around one configuration's generated
 * successor function.
 *
 * modelcheck/explicit/native/driver.py prepends the layout's constants (MC_WIDTH leaves,
 * MC_INSTANCES action instances, the cell type mc_cell, the frontier's packing) and compiles this
 * file as one translation unit; the C translation of the compiled mode's expand function
 * (c_source.py) and the symmetry canonicalizer (symmetry_c.py) are another, whose prelude is
 * this file down to the model marker below, and the two are linked. This unit depends on the
 * layout alone, so its object is kept and shared by every property and by the search with and
 * without symmetry. The search is the one of modelcheck/explicit/search.py with the compact
 * store, state for state:
 *
 *   - level by level; a level's states have consecutive ids [lo, hi) and are expanded in id
 *     order, their successors in the order expand gives them;
 *   - a successor is new when its fingerprint is not yet in the set; new states are admitted
 *     at once, in the order they were generated, so ids, parents and steps are those of the
 *     Python search;
 *   - the fingerprint is XXH64-style over the packed row (mc_fingerprint, which Python calls
 *     to rebuild traces), not the Python search's hash() of the tuple, so fingerprints
 *     differ from the Python search's while ids, parents, steps and depths are the same;
 *   - per property, the first state (or step) that violates or witnesses it, as the Python
 *     search's setdefault records it.
 *
 * With several threads (mc_threads), a level is cut into chunks; the threads expand a chunk's
 * states side by side (successor function, canonical representative, fingerprints);
 * then each thread looks up and inserts the chunk's fingerprints that fall in its own shards
 * of the set, in the chunk's order, so the first occurrence of a new state is the one marked
 * new, as one-by-one admission would decide, and packs the new ones' frontier rows; last the
 * calling thread walks the chunk in state order giving the new states their ids, so every id,
 * parent and step is the one-thread search's whatever the number of threads.
 *
 * The fingerprint set is MC_SHARDS open-addressing sets with linear probing over 64-bit keys,
 * a fingerprint's top bits choosing its shard, each at most three quarters full (0 is kept
 * apart); a shard grows alone, refilled from its old table, which is then unmapped (a shard is
 * a small part of the set, so the two together add little to the peak). Per state the search keeps a parent (int32),
 * an instance (int16 when they fit), a fingerprint (int64) and its slot; depths are counted per
 * level by the caller; frontier rows are bit-packed (each leaf in the bits its type's range
 * needs) and the expanded level's buffer is freed at once. Nothing here allocates per state but
 * the growing arrays (realloc'd, or spilled under a budget; untouched capacity costs no
 * resident memory) and the shards.
 *
 * With edges on (a search judging an `at_end` property, which fails on any cycle), the set
 * also keeps each fingerprint's id, and every step into a state already stored is kept as an
 * int32 (source, target) pair; with the parent array (the steps that found a state) they are
 * the whole reachability graph, which mc_cycle peels (Kahn) to find whether it has a cycle.
 *
 * With steps on (MC_STEPS: a search judging a liveness property), every step is also kept, in
 * the order it was generated, as an int32 (source, instance, target) triple (the full store's
 * edges, in the full store's order), and every expanded state's witness mask (mc_array 15),
 * which holds the liveness property's goal and trigger bits: what the fair-cycle check of
 * modelcheck/explicit/liveness.py reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MC_FAULT (-1)
#define MC_NOMEM (-2)
#define MC_SEED_FAULT (-3)  /* mc_seed: -1 says "seen", so a fault there has a code of its own */
#define MC_SPILL_FAULT (-4)  /* a spill file could not be made or grown (mc_spill_errno says why) */
#define MC_MAXPROPS 64
#define MC_MAXTHREADS 16
#define MC_PAIRS 1  /* mc_new's edges: steps into stored states as (source, target) pairs */
#define MC_STEPS 2  /* every step as a (source, instance, target) triple, and each state's witness mask */

typedef struct {
    mc_cell *succ;  /* where the successors' rows go: MC_INSTANCES rows of MC_WIDTH cells at most */
    int32_t *inst;
    uint64_t *sb;
    uint64_t bad, hit, ends;
    int terminal;
} Out;

static inline int64_t mc_floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static inline int64_t mc_floormod(int64_t a, int64_t b)
{
    int64_t r = a % b;
    if (r != 0 && ((r < 0) != (b < 0)))
        r += b;
    return r;
}

/* The model's part, a translation unit of its own (modelcheck/explicit/native/driver.py): the
 * translated successor function, the symmetry canonicalizer (mc_canonical, a no-op without
 * symmetry, where mc_ready_vectors is 1) and the canonicalizer of a bare row. Everything above
 * this line is the model's unit's prelude too; everything here is the same for every property
 * and with or without symmetry, so that one compiled search serves them all. */
int mc_expand(const mc_cell *x, int successors, Out *o);
void mc_canonical(unsigned char *ready_seen, int64_t (*ready_row)[MC_WIDTH], mc_cell *x);
void mc_canonical_cells(mc_cell *x);
int64_t mc_ready_vectors(void);

/* @MODEL@ */

/* ------------------------------------------------------------------ fingerprints */

/* XXH64's round and avalanche over the packed row of cells (one lane): a state's 64-bit
 * fingerprint. Nine rounds for a 71-byte row, against 71 dependent rounds for CPython's
 * hash() of the tuple. */
#define P1 11400714785074694791ULL
#define P2 14029467366897019727ULL
#define P3 1609587929392839161ULL
#define P5 2870177450012600261ULL
#define ROW_BYTES (MC_WIDTH * sizeof(mc_cell))

static inline uint64_t round64(uint64_t acc, uint64_t w)
{
    acc += w * P2;
    acc = (acc << 31) | (acc >> 33);
    return acc * P1;
}

static inline uint64_t fp_row(const mc_cell *row)
{
    const unsigned char *p = (const unsigned char *)row;
    uint64_t acc = P5 + ROW_BYTES, w;
    size_t i = 0;
#pragma GCC unroll 64
    for (; i + 8 <= ROW_BYTES; i += 8) {
        memcpy(&w, p + i, 8);
        acc = round64(acc, w);
    }
    if (i < ROW_BYTES) {
        w = 0;
        memcpy(&w, p + i, ROW_BYTES - i);
        acc = round64(acc, w);
    }
    acc ^= acc >> 33;
    acc *= P2;
    acc ^= acc >> 29;
    acc *= P3;
    acc ^= acc >> 32;
    return acc;
}

/* Python's flat state (int64 leaves) as a row of cells: for seeds and the fingerprints Python
 * asks for. The search itself never narrows: mc_expand writes its successors as cells, straight
 * into the rows the canonicalizer, the fingerprint and the frontier read (narrowing each
 * successor's 71 leaves here was 18% of the search's instructions). */
static void pack(mc_cell *row, const int64_t *x)
{
    for (int i = 0; i < MC_WIDTH; i++)
        row[i] = (mc_cell)x[i];
}

/* A frontier row: with MC_BITS, each leaf in the bits its range needs (mc_lo, mc_nbits, from
 * the field types), MC_FRONTIER_BYTES a state; else the packed cells. Fingerprints are always
 * of the cells. A leaf outside its range cannot be packed: frontier_put says so, and the
 * state is handed back to Python (MC_FAULT), which decides it. */
#if MC_BITS
/* Both loops run over constant widths (mc_nbits): unrolled at -O2, every shift and mask is a
 * constant and no branch is left but the range check; at the library's -O1 they would loop. */
#if defined(__GNUC__) && !defined(__clang__)
#define MC_UNROLLED __attribute__((optimize("O2", "unroll-loops")))
#else
#define MC_UNROLLED
#endif
#ifdef MC_RANGE8
/* Whether every cell of a row of one-byte cells is in the range its bits hold, 16 cells a
 * compare (GCC's vector extension: SSE2, NEON, or plain code where the target has neither); the
 * last block overlaps the one before it so that no read passes the row. Checked leaf by leaf in
 * frontier_put it was half of that function's instructions. */
typedef int8_t mc_v16 __attribute__((vector_size(16)));

static inline MC_UNROLLED int row_in_range(const mc_cell *row)
{
    mc_v16 bad = {0}, x, lo, hi;
#pragma GCC unroll 64
    for (int i = 0; i < MC_WIDTH; i += 16) {
        int at = i + 16 <= MC_WIDTH ? i : MC_WIDTH - 16;
        memcpy(&x, row + at, 16);
        memcpy(&lo, mc_lo8 + at, 16);
        memcpy(&hi, mc_hi8 + at, 16);
        bad |= (x < lo) | (x > hi);
    }
    uint64_t w[2];
    memcpy(w, &bad, sizeof w);
    return !(w[0] | w[1]);
}
#endif

static inline MC_UNROLLED int frontier_put(unsigned char *dst, const mc_cell *row)
{
    uint64_t acc = 0;
    int nb = 0;
#ifdef MC_RANGE8
    if (!row_in_range(row))
        return -1;
#endif
#pragma GCC unroll 4096
    for (int i = 0; i < MC_WIDTH; i++) {
        uint64_t v = (uint64_t)((int64_t)row[i] - mc_lo[i]);
#ifndef MC_RANGE8
        if (v >> mc_nbits[i])
            return -1;
#endif
        acc |= v << nb;
        nb += mc_nbits[i];
        while (nb >= 8) {
            *dst++ = (unsigned char)acc;
            acc >>= 8;
            nb -= 8;
        }
    }
    if (nb)
        *dst = (unsigned char)acc;
    return 0;
}

static inline MC_UNROLLED void frontier_get(mc_cell *x, const unsigned char *src)
{
    uint64_t acc = 0;
    int nb = 0;
#pragma GCC unroll 4096
    for (int i = 0; i < MC_WIDTH; i++) {
        while (nb < mc_nbits[i]) {
            acc |= (uint64_t)*src++ << nb;
            nb += 8;
        }
        x[i] = (mc_cell)((int64_t)(acc & ((UINT64_C(1) << mc_nbits[i]) - 1)) + mc_lo[i]);
        acc >>= mc_nbits[i];
        nb -= mc_nbits[i];
    }
}
#else
#define MC_FRONTIER_BYTES ROW_BYTES
static inline int frontier_put(unsigned char *dst, const mc_cell *row)
{
    memcpy(dst, row, ROW_BYTES);
    return 0;
}

static inline void frontier_get(mc_cell *x, const unsigned char *src)
{
    memcpy(x, src, ROW_BYTES);
}
#endif

/* The fingerprint of flat state x (Python rebuilds traces with it). */
int64_t mc_fingerprint(const int64_t *x)
{
    mc_cell row[MC_WIDTH];
    pack(row, x);
    return (int64_t)fp_row(row);
}

/* ------------------------------------------------------------------ growing arrays
 *
 * Every per-state, per-step and frontier array is a Vec: on the heap (realloc'd) until the
 * search spills, then an unlinked file in the spill directory, mapped shared (file_room). These
 * arrays are only streamed during the search (a level's rows read in order, the next level's,
 * the parents, instances and fingerprints written in order; a parallel level's new frontier
 * rows are packed by the threads into their own chunk buffers on the heap and copied into the
 * next level's Vec by the one thread that gives ids, so no Vec here grows or spills on two
 * threads at once), so once spilled the kernel keeps only the pages being touched: spill_trim drops
 * the rest from the mapping every SPILL_TRIM states (dirty pages go to the page cache, then to
 * disk), and the resident size is the fingerprint set's alone. Disk blocks are reserved with
 * posix_fallocate before a file grows, so a full disk is an error code here, never a SIGBUS
 * on a later store. This block is the search's whole allocator: the loop only calls vec_room,
 * VEC_PUSH and vec_free. */

typedef struct {
    char *p;
    size_t n, cap, item;
    int fd;  /* -1: on the heap; else the spill file mapped at p (cap items long) */
    int err;  /* the errno of the last failed spill-file operation (0: none) */
    const char *dir;  /* NULL: heap; else where the file is made (a spilled Vec stays spilled) */
    int (*guard)(void *owner, size_t more);  /* asked before the heap grows by `more` bytes (may spill) */
    void *owner;
} Vec;

static void vec_init(Vec *v, size_t item)
{
    v->p = NULL;
    v->n = v->cap = 0;
    v->item = item;
    v->fd = -1;
    v->err = 0;
    v->dir = NULL;
    v->guard = NULL;
    v->owner = NULL;
}

/* An unlinked file in dir, read-write: O_TMPFILE where the file system has it, else mkstemp
 * and unlink. */
static int spill_open(const char *dir)
{
    int fd;
#ifdef O_TMPFILE
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
#endif
    char path[4200];
    if (snprintf(path, sizeof path, "%s/modelcheck-spill-XXXXXX", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = mkstemp(path);
    if (fd >= 0)
        unlink(path);
    return fd;
}

/* Grow the spilled v to cap items: blocks reserved on disk first (ENOSPC is an answer here),
 * then the mapping grown. */
static int file_room(Vec *v, size_t cap)
{
    if (v->fd < 0 && (v->fd = spill_open(v->dir)) < 0) {
        v->err = errno ? errno : EIO;
        return -1;
    }
    size_t bytes = cap * v->item;
    int e = posix_fallocate(v->fd, 0, (off_t)bytes);
    if (e) {
        v->err = e;
        return -1;
    }
    void *p = v->p ? mremap(v->p, v->cap * v->item, bytes, MREMAP_MAYMOVE)
                   : mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
    if (p == MAP_FAILED) {
        v->err = errno ? errno : ENOMEM;
        return -1;
    }
    v->p = p;
    v->cap = cap;
    return 0;
}

static int vec_grow(Vec *v, size_t more);

/* Room for `more` items past v->n: 0, or -1 when none can be had. The test is inline (it is
 * asked per state and per step); growing is not. */
static inline __attribute__((always_inline)) int vec_room(Vec *v, size_t more)
{
    return v->n + more <= v->cap ? 0 : vec_grow(v, more);
}

static int vec_grow(Vec *v, size_t more)
{
    size_t cap = v->cap ? v->cap : 1024;
    while (cap < v->n + more)
        cap *= 2;
    if (!v->dir && v->guard && v->guard(v->owner, (cap - v->cap) * v->item) < 0)
        return -1;  /* the budget's guard could not spill */
    if (v->dir)  /* spilled, or the guard has just spilled it */
        return file_room(v, cap);
    char *p = realloc(v->p, cap * v->item);
    if (!p)
        return -1;
    v->p = p;
    v->cap = cap;
    return 0;
}

/* Free v's storage (heap or file); a spilled Vec stays spilled. */
static void vec_free(Vec *v)
{
    if (v->fd >= 0) {
        if (v->p)
            munmap(v->p, v->cap * v->item);
        close(v->fd);
    } else {
        free(v->p);
    }
    v->p = NULL;
    v->n = v->cap = 0;
    v->fd = -1;
}

/* Move v to a file in dir: its items written (not copied through the mapping, so they never
 * count as resident twice), the heap copy freed. */
static int vec_spill(Vec *v, const char *dir)
{
    if (v->dir)
        return 0;
    char *old = v->p;
    size_t n = v->n, cap = v->cap;
    v->dir = dir;
    v->p = NULL;
    v->cap = 0;
    if (!old)
        return 0;
    if (file_room(v, cap)) {
        v->dir = NULL;  /* still on the heap, as it was */
        v->p = old;
        v->cap = cap;
        return -1;
    }
    for (size_t done = 0, bytes = n * v->item; done < bytes;) {
        ssize_t w = pwrite(v->fd, old + done, bytes - done, (off_t)done);
        if (w <= 0) {
            v->err = w < 0 ? errno : EIO;
            free(old);
            return -1;  /* the caller stops the search: v's items are lost with it */
        }
        done += (size_t)w;
    }
    free(old);
    return 0;
}

/* Drop a spilled v's pages from this process (they stay in the file; touching them again
 * reads them back). */
static void vec_trim(Vec *v)
{
    if (v->fd >= 0 && v->p && v->cap)
        madvise(v->p, v->cap * v->item, MADV_DONTNEED);
}

/* Bytes of v on the heap (its items: untouched capacity is not resident). */
static size_t vec_heap(const Vec *v)
{
    return v->fd >= 0 || v->dir ? 0 : v->n * v->item;
}

#define VEC_PUSH(v, type, value) (((type *)(v).p)[(v).n++] = (value))

/* ------------------------------------------------------------------ the search */

/* A state's instance (the step that found it): two bytes when the instances fit. */
#if MC_INSTANCES < 32768
typedef int16_t mc_via;
#else
typedef int32_t mc_via;
#endif

/* The fingerprint set is MC_SHARDS sets, a fingerprint's top MC_SHARD_BITS bits choosing its
 * shard: each thread of a parallel level looks up and inserts the fingerprints of its own
 * shards (shard % threads), so the threads never touch one set, and a shard grows alone. How a
 * fingerprint is stored does not depend on the number of threads. */
#define MC_SHARD_BITS 6  /* at most 6: a thread's shards are the bits of a uint64_t (Prober) */
#define MC_SHARDS (1 << MC_SHARD_BITS)
typedef struct {
    uint64_t *table;  /* open addressing, linear probing, at most three quarters full; 0 is kept apart */
    int32_t *ids;  /* with edges on: the id of table[i]'s state */
    size_t mask, used;
} Shard;

static inline int shard_of(uint64_t fp) { return (int)(fp >> (64 - MC_SHARD_BITS)); }

/* What expanding one state gave, for the admission that follows a parallel expansion. */
typedef struct {
    int32_t n, terminal;
    uint64_t marks;  /* bad | hit | (terminal ? ends : 0) */
    uint64_t hit;  /* the witnesses alone (with MC_STEPS, the liveness marks) */
} Head;

struct Ctx;

/* One thread's share of a chunk of the frontier, [lo, hi): its states' heads, then their
 * successors' packed rows, fingerprints, action instances and step bits, in order; with
 * symmetry, the readiness vectors it saw first (merged into the context's in state order).
 * The sharded lookup (probe_part) then says which successors are new (fresh: FRESH, or ODD
 * when the frontier cannot hold its leaves) and writes a new one's frontier row (frows, at
 * its place), so admitting it is a copy. */
#define FRESH 1
#define ODD 2
typedef struct {
    const struct Ctx *c;
    int64_t lo, hi, fault_sid;  /* fault_sid: the first state handed back to Python, or -1 */
    int successors, nomem;
    Vec head, rows, fps, inst, sb, fresh, frows;
    int32_t oinst[MC_INSTANCES];
    uint64_t osb[MC_INSTANCES];
    int vectors;  /* symmetry's readiness vectors (mc_ready_vectors; 1: no symmetry) */
    unsigned char *ready_seen;  /* the vectors this part saw first, and a state of each */
    int64_t (*ready_row)[MC_WIDTH];
} Part;

typedef struct Ctx {
    int64_t max_states;  /* -1: no bound */
    int64_t size, lo, hi, transitions, fault_sid;
    uint32_t depth;
    int hit_state_bound;
    Vec parent, via, fps, terminal, cur, next, pairs, left;  /* depths: Python counts each level's states */
    Vec steps, marks;  /* with MC_STEPS */
    int32_t admit_k;  /* the instance of the step being admitted */
    Shard shard[MC_SHARDS];  /* the fingerprint set, by a fingerprint's top bits */
    int has_zero, started, edges;
    int32_t zero_id;
    int64_t fired[MC_INSTANCES];
    int64_t first[MC_MAXPROPS];
    int64_t step_sid[MC_MAXPROPS], step_k[MC_MAXPROPS];
    int64_t step_t[MC_MAXPROPS][MC_WIDTH];
    int32_t inst[MC_INSTANCES];
    uint64_t sb[MC_INSTANCES];
    mc_cell rows[MC_INSTANCES * MC_WIDTH];  /* one state's successors, packed */
    uint64_t succ_fp[MC_INSTANCES];
    int vectors;  /* symmetry's readiness vectors (mc_ready_vectors; 1: no symmetry) */
    unsigned char *ready_seen;  /* symmetry: readiness vectors seen, and the first state of each */
    int64_t (*ready_row)[MC_WIDTH];
    int64_t limit;  /* the resident bytes this process may use (0: no budget here; see mc_budget) */
    int64_t base;  /* resident bytes at the start, when /proc cannot say how many now */
    char spill_dir[4096];  /* where arrays spill once the heap would pass limit ("": never) */
    int spilled, hit_memory, spill_errno;
    int64_t since_trim;  /* states admitted or expanded since the spilled pages were last dropped */
    int threads;  /* expanding threads (1: the calling thread alone) */
    int64_t chunk;  /* states all threads expand between two admissions */
    Part *parts[MC_MAXTHREADS];
    pthread_mutex_t budget_lock;  /* a shard's growth under a budget (shard_room), one thread at a time */
} Ctx;

/* A successor row rewritten into its class's representative (o: the context or a thread's part,
 * which records the first state seen with each readiness vector); without symmetry it is its
 * own representative. */
#define MC_CANONICAL(o, x) do { if ((o)->vectors > 1) mc_canonical((o)->ready_seen, (o)->ready_row, x); } while (0)

/* Row x rewritten in place into its class's representative (itself without symmetry), nothing
 * recorded: what the tests hold against the compiled mode's canonicalizer on any state. */
void mc_canonical_row(int64_t *x)
{
    mc_cell row[MC_WIDTH];
    pack(row, x);
    mc_canonical_cells(row);
    for (int i = 0; i < MC_WIDTH; i++)
        x[i] = row[i];
}

/* A zeroed table of `slots` fingerprints, mapped (not malloc'd) so that freeing it gives its
 * pages back at once whatever its size (malloc keeps freed chunks below its moving mmap
 * threshold, which the shards' doubling sizes would cross). Its probes land anywhere, so
 * with 4 KB pages nearly every one is a TLB miss: where the system has transparent huge
 * pages on request, the table asks for them. */
static uint64_t *table_alloc(size_t slots)
{
    void *t = mmap(NULL, slots * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (slots * sizeof(uint64_t) >= ((size_t)2 << 20))
        madvise(t, slots * sizeof(uint64_t), MADV_HUGEPAGE);
#endif
    return t;
}

static void table_free(uint64_t *t, size_t slots)
{
    if (t)
        munmap(t, slots * sizeof(uint64_t));
}

static inline size_t slot_of(uint64_t fp, size_t mask)
{
    fp ^= fp >> 33;
    fp *= 0xff51afd7ed558ccdULL;
    fp ^= fp >> 33;
    return (size_t)fp & mask;
}

/* Double a shard (shard_room decides when): the new table is filled from the old, then the
 * old freed; a shard is 1/MC_SHARDS of the set, so the two together add little to the peak. */
static int shard_grow(Shard *s, int edges)
{
    size_t size = (s->mask + 1) * 2, mask = size - 1;
    uint64_t *table = table_alloc(size);
    int32_t *ids = edges ? malloc(size * sizeof(int32_t)) : NULL;
    if (!table || (edges && !ids)) {
        table_free(table, size);
        free(ids);
        return -1;
    }
    for (size_t i = 0; i <= s->mask; i++) {
        uint64_t fp = s->table[i];
        if (!fp)
            continue;
        size_t j = slot_of(fp, mask);
        while (table[j])
            j = (j + 1) & mask;
        table[j] = fp;
        if (ids)
            ids[j] = s->ids[i];
    }
    table_free(s->table, s->mask + 1);
    free(s->ids);
    s->table = table;
    s->ids = ids;
    s->mask = mask;
    return 0;
}

/* Where fp is in its shard (1), or the free slot where it goes (0). fp is not 0. */
static inline int shard_find(const Shard *s, uint64_t fp, size_t *slot)
{
    size_t i = slot_of(fp, s->mask);
    while (s->table[i]) {
        if (s->table[i] == fp) {
            *slot = i;
            return 1;
        }
        i = (i + 1) & s->mask;
    }
    *slot = i;
    return 0;
}

/* The bytes a shard's table (and ids) take. */
static size_t shard_bytes(const Shard *s)
{
    return (s->mask + 1) * (sizeof(uint64_t) + (s->ids ? sizeof(int32_t) : 0));
}

static void free_shards(Ctx *c)
{
    for (int i = 0; i < MC_SHARDS; i++) {
        table_free(c->shard[i].table, c->shard[i].mask + 1);
        free(c->shard[i].ids);
        c->shard[i].table = NULL;
        c->shard[i].ids = NULL;
        c->shard[i].mask = c->shard[i].used = 0;
    }
}

/* ------------------------------------------------------------------ the memory budget
 *
 * With a budget (mc_budget), the search counts what it holds on the heap: the fingerprint set
 * and the arrays not yet spilled. When that would pass the limit, the arrays move to the spill
 * directory (once; from then on they grow there) and the search goes on; only when the set
 * itself cannot grow within the limit (a shard that would double past it, shard_room) does the
 * search stop admitting states, as a state bound does (mc_hit_memory), so every stored state
 * is still judged. The shards are what stays resident. */

#define SPILL_TRIM (1 << 14)  /* states between two drops of the spilled pages (and looks at the resident size) */

static Vec *streamed(Ctx *c, int i)
{
    Vec *vs[] = {&c->parent, &c->via, &c->fps, &c->terminal, &c->cur, &c->next, &c->pairs, &c->steps, &c->marks};
    return i < (int)(sizeof vs / sizeof vs[0]) ? vs[i] : NULL;
}

/* This process's resident bytes now (Linux /proc/self/statm; elsewhere the start's plus what the
 * search holds on the heap). */
static size_t resident_now(Ctx *c)
{
    char text[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, text, sizeof text - 1);
        close(fd);
        unsigned long size, pages;
        if (n > 0) {
            text[n] = 0;
            if (sscanf(text, "%lu %lu", &size, &pages) == 2)
                return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
        }
    }
    size_t bytes = (size_t)c->base;
    for (int i = 0; i < MC_SHARDS; i++)
        bytes += shard_bytes(&c->shard[i]);
    for (int i = 0; streamed(c, i); i++)
        bytes += vec_heap(streamed(c, i));
    return bytes;
}

/* Move every streamed array to the spill directory; MC_SPILL_FAULT (spill_errno set) on failure. */
static int spill(Ctx *c)
{
    if (c->spilled)
        return 0;
    c->spilled = 1;
    for (int i = 0; streamed(c, i); i++) {
        Vec *v = streamed(c, i);
        if (vec_spill(v, c->spill_dir)) {
            c->spill_errno = v->err;
            return MC_SPILL_FAULT;
        }
        vec_trim(v);
    }
    malloc_trim(0);  /* the freed arrays' pages go back to the system, not to the heap's free lists */
    return 0;
}

static void spill_trim(Ctx *c)
{
    c->since_trim = 0;
    if (c->spilled)
        for (int i = 0; streamed(c, i); i++)
            vec_trim(streamed(c, i));
}

/* Whether `more` resident bytes fit the budget, spilling first if that makes room: 0 yes, 1 no,
 * MC_SPILL_FAULT. */
static int budget_room(Ctx *c, size_t more)
{
    if (c->limit <= 0 || resident_now(c) + more <= (size_t)c->limit)
        return 0;
    if (!c->spilled && c->spill_dir[0]) {
        int r = spill(c);
        if (r)
            return r;
    }
    return resident_now(c) + more > (size_t)c->limit;
}

/* The spill errno of the first failed array, when a call failed for a spill file (vec_room
 * says -1 for both the heap and a file). */
static int spill_failed(Ctx *c)
{
    if (c->spill_errno)
        return 1;
    for (int i = 0; streamed(c, i); i++)
        if (streamed(c, i)->err) {
            c->spill_errno = streamed(c, i)->err;
            return 1;
        }
    return 0;
}

/* Spill now (when there is a spill directory) and drop the spilled pages: 0, or MC_SPILL_FAULT. */
int64_t mc_spill(Ctx *c)
{
    int r = c->spill_dir[0] ? spill(c) : 0;
    spill_trim(c);
    return r;
}

/* A streamed array's guard: room for `more` heap bytes within the budget, spilling if need be
 * (a realloc that doubles an array would otherwise pass the budget between two looks). */
static int guard(void *owner, size_t more)
{
    Ctx *c = owner;
    return c->spilled ? 0 : budget_room(c, more) < 0 ? -1 : 0;
}

/* Set the budget: limit resident bytes for this process (0: none; base: its resident bytes now),
 * and the spill directory ("" or NULL: stop at the limit instead of spilling). */
void mc_budget(Ctx *c, int64_t limit, int64_t base, const char *dir)
{
    c->limit = limit;
    c->base = base;
    for (int i = 0; streamed(c, i); i++) {
        streamed(c, i)->guard = limit > 0 ? guard : NULL;
        streamed(c, i)->owner = c;
    }
    c->spill_dir[0] = 0;
    if (dir && strlen(dir) < sizeof c->spill_dir)
        strcpy(c->spill_dir, dir);
}

/* Room in shard sh for one more fingerprint (doubling it when it would pass three quarters
 * full): 0 yes; 1 no, the memory bound (the set cannot grow within the budget: from then on no
 * shard grows, each admits new states only while it has room, as one table did), MC_NOMEM or
 * MC_SPILL_FAULT. The threads of a parallel lookup call it each for its own shards: with a
 * budget, the look at the resident size, a spill and the growth happen under budget_lock, one
 * thread at a time (the threads touch no streamed array while they look up, so spilling there
 * races with nothing). */
static int shard_make_room(Ctx *c, Shard *sh);

/* As shard_make_room, its common answer (room left) tested inline: it is asked per step. */
static inline __attribute__((always_inline)) int shard_room(Ctx *c, Shard *sh)
{
    return (sh->used + 1) * 4 <= (sh->mask + 1) * 3 ? 0 : shard_make_room(c, sh);
}

static int shard_make_room(Ctx *c, Shard *sh)
{
    if (c->limit <= 0)
        return shard_grow(sh, c->edges) ? MC_NOMEM : 0;
    if (__atomic_load_n(&c->hit_memory, __ATOMIC_ACQUIRE))
        return 1;  /* set once, never cleared: the full shards answer without the lock */
    pthread_mutex_lock(&c->budget_lock);
    int r = c->hit_memory ? 1 : budget_room(c, 2 * shard_bytes(sh));  /* old and new together */
    if (r > 0)
        __atomic_store_n(&c->hit_memory, 1, __ATOMIC_RELEASE);
    else if (r == 0 && shard_grow(sh, c->edges))
        r = MC_NOMEM;
    pthread_mutex_unlock(&c->budget_lock);
    return r;
}

static void free_parts(Ctx *c)
{
    for (int i = 0; i < MC_MAXTHREADS; i++) {
        Part *p = c->parts[i];
        if (p) {
            free(p->head.p);
            free(p->rows.p);
            free(p->fps.p);
            free(p->inst.p);
            free(p->sb.p);
            free(p->fresh.p);
            free(p->frows.p);
            free(p->ready_seen);
            free(p->ready_row);
            free(p);
            c->parts[i] = NULL;
        }
    }
}

void mc_free(Ctx *c)
{
    if (!c)
        return;
    Vec *vs[] = {&c->parent, &c->via, &c->fps, &c->terminal, &c->cur, &c->next, &c->pairs, &c->left,
                 &c->steps, &c->marks};
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++)
        vec_free(vs[i]);
    free_shards(c);
    pthread_mutex_destroy(&c->budget_lock);
    free_parts(c);
    free(c->ready_seen);
    free(c->ready_row);
    free(c);
}

/* The symmetry scratch of the context or of a thread's part: which of the `vectors` readiness
 * vectors were seen, and a state of each. 0, or -1 with neither allocated. */
static int ready_alloc(int vectors, unsigned char **seen, int64_t (**row)[MC_WIDTH])
{
    *seen = calloc((size_t)vectors, 1);
    *row = calloc((size_t)vectors, sizeof **row);
    if (*seen && *row)
        return 0;
    free(*seen);
    free(*row);
    *seen = NULL;
    *row = NULL;
    return -1;
}

Ctx *mc_new(int64_t max_states, int edges)
{
    Ctx *c = calloc(1, sizeof(Ctx));
    if (!c)
        return NULL;
    c->max_states = max_states;
    c->fault_sid = -1;
    c->vectors = (int)mc_ready_vectors();
    if (ready_alloc(c->vectors, &c->ready_seen, &c->ready_row)) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->budget_lock, NULL);
    vec_init(&c->parent, sizeof(int32_t));
    vec_init(&c->via, sizeof(mc_via));
    vec_init(&c->fps, sizeof(int64_t));
    vec_init(&c->terminal, sizeof(int64_t));
    vec_init(&c->cur, MC_FRONTIER_BYTES);
    vec_init(&c->next, MC_FRONTIER_BYTES);
    vec_init(&c->pairs, 2 * sizeof(int32_t));
    vec_init(&c->left, 1);
    vec_init(&c->steps, 3 * sizeof(int32_t));
    vec_init(&c->marks, sizeof(uint64_t));
    c->edges = edges;
    for (int i = 0; i < MC_SHARDS; i++) {
        Shard *sh = &c->shard[i];
        sh->mask = (1 << 10) - 1;
        sh->table = table_alloc(sh->mask + 1);
        sh->ids = edges ? malloc((sh->mask + 1) * sizeof(int32_t)) : NULL;
        if (!sh->table || (edges && !sh->ids)) {
            mc_free(c);
            return NULL;
        }
    }
    for (int i = 0; i < MC_MAXPROPS; i++)
        c->first[i] = c->step_sid[i] = -1;
    return c;
}

/* With MC_STEPS, the step from src by instance k into state dst, as a triple. */
static int keep_step(Ctx *c, int64_t src, int32_t k, int32_t dst)
{
    if (vec_room(&c->steps, 1))
        return MC_NOMEM;
    int32_t *t = (int32_t *)c->steps.p + 3 * c->steps.n++;
    t[0] = (int32_t)src;
    t[1] = k;
    t[2] = dst;
    return 0;
}

/* With edges on, the step (by instance c->admit_k) from src into stored state dst (src < 0: an
 * initial state). */
static int edge(Ctx *c, int64_t src, int32_t dst)
{
    if (!c->edges || src < 0)
        return 0;
    if ((c->edges & MC_STEPS) && keep_step(c, src, c->admit_k, dst))
        return MC_NOMEM;
    if (!(c->edges & MC_PAIRS))
        return 0;
    if (vec_room(&c->pairs, 1))
        return MC_NOMEM;
    ((int32_t *)c->pairs.p)[2 * c->pairs.n] = (int32_t)src;
    ((int32_t *)c->pairs.p)[2 * c->pairs.n + 1] = dst;
    c->pairs.n++;
    return 0;
}

/* Insert fp (a step from src) when absent and the state bound (and the memory bound) allows a
 * new state; 1 if it is new (its id is c->size: the caller records it at once), 0 if seen (or
 * cut by a bound), MC_NOMEM, MC_SPILL_FAULT. */
static int admit_fp(Ctx *c, uint64_t fp, int64_t src)
{
    size_t i = 0;
    int full = 0;
    Shard *sh = &c->shard[shard_of(fp)];
    if (fp == 0) {
        if (c->has_zero)
            return edge(c, src, c->zero_id);
    } else {
        full = shard_room(c, sh);
        if (full < 0)
            return full;
        if (shard_find(sh, fp, &i))
            return sh->ids ? edge(c, src, sh->ids[i]) : 0;
    }
    if (c->max_states >= 0 && c->size >= c->max_states) {
        c->hit_state_bound = 1;
        return 0;
    }
    if (full)
        return 0;  /* the memory bound: this shard is as large as the budget allows */
    if (c->size >= INT32_MAX)  /* ids are int32, as in the Python search's arrays */
        return MC_NOMEM;
    if (fp == 0) {
        c->has_zero = 1;
        c->zero_id = (int32_t)c->size;
    } else {
        sh->table[i] = fp;
        if (sh->ids)
            sh->ids[i] = (int32_t)c->size;
        sh->used++;
    }
    return 1;
}

/* Record a new state, its frontier row given (frow) or packed here from its cells (row): id
 * c->size. MC_FAULT when its leaves do not fit the frontier (neither row given: found so). */
static int record(Ctx *c, int32_t parent, int32_t via, int64_t fp, const mc_cell *row, const unsigned char *frow)
{
    if (c->size >= INT32_MAX)  /* ids are int32, as in the Python search's arrays */
        return MC_NOMEM;
    if (c->limit > 0 && !c->spilled && (c->size & (SPILL_TRIM - 1)) == 0 && budget_room(c, 0) < 0)
        return MC_SPILL_FAULT;  /* spilled when the heap passed the limit; failing that, stop */
    if (c->spilled && ++c->since_trim >= SPILL_TRIM)
        spill_trim(c);
    if (vec_room(&c->parent, 1) || vec_room(&c->via, 1) || vec_room(&c->fps, 1) || vec_room(&c->next, 1))
        return MC_NOMEM;
    unsigned char *dst = (unsigned char *)c->next.p + c->next.n * MC_FRONTIER_BYTES;
    if (frow)
        memcpy(dst, frow, MC_FRONTIER_BYTES);
    else if (!row || frontier_put(dst, row))
        return MC_FAULT;  /* a leaf outside its type's range */
    VEC_PUSH(c->parent, int32_t, parent);
    VEC_PUSH(c->via, mc_via, (mc_via)via);
    VEC_PUSH(c->fps, int64_t, fp);
    c->next.n++;
    c->size++;
    return 0;
}

/* An initial state: its id, -1 when it equals an earlier one, MC_NOMEM, MC_SEED_FAULT. Initial states
 * form level 0; mc_level moves them to the frontier. */
static int64_t seed(Ctx *c, const int64_t *x);

int64_t mc_seed(Ctx *c, const int64_t *x)
{
    int64_t r = seed(c, x);
    return r == MC_NOMEM && spill_failed(c) ? MC_SPILL_FAULT : r;
}

static int64_t seed(Ctx *c, const int64_t *x)
{
    mc_cell row[MC_WIDTH];
    pack(row, x);
    int64_t fp = (int64_t)fp_row(row);
    int64_t saved = c->max_states;
    c->max_states = -1;  /* the Python search admits every initial state */
    int fresh = admit_fp(c, (uint64_t)fp, -1);
    c->max_states = saved;
    if (fresh <= 0)
        return fresh == 0 ? -1 : fresh;
    int r = record(c, -1, -1, fp, row, NULL);
    if (r == MC_FAULT) {  /* a leaf outside its type's range */
        c->fault_sid = c->size;
        return MC_SEED_FAULT;
    }
    if (r)
        return r;
    return c->size - 1;
}

/* Expand levels on n threads (1..MC_MAXTHREADS; 1 by default), chunk states at a time: the
 * same ids, parents, steps and evidence, since states are still admitted in the order the
 * one-thread search admits them; their expansion (the generated successor function, the
 * canonical representative and fingerprints) and the lookup of their fingerprints in
 * the set (a shard per thread) run on several threads, only giving ids on one (level_parallel).
 * Returns the count set. */
int64_t mc_threads(Ctx *c, int64_t n, int64_t chunk)
{
    c->threads = n < 1 ? 1 : n > MC_MAXTHREADS ? MC_MAXTHREADS : (int)n;
    c->chunk = chunk < 1 ? 1 : chunk;
    return c->threads;
}

/* Expand the states [p->lo, p->hi) of the current level into p (a thread's body). */
static void *expand_part(void *arg)
{
    Part *p = arg;
    const Ctx *c = p->c;
    mc_cell x[MC_WIDTH];
    Out o = {NULL, p->oinst, p->osb, 0, 0, 0, 0};
    p->head.n = p->rows.n = p->fps.n = p->inst.n = p->sb.n = 0;
    p->fault_sid = -1;
    p->nomem = 0;
    for (int64_t sid = p->lo; sid < p->hi; sid++) {
        frontier_get(x, (const unsigned char *)c->cur.p + (size_t)(sid - c->lo) * MC_FRONTIER_BYTES);
        if (vec_room(&p->rows, MC_INSTANCES)) {  /* the successors are written in place */
            p->nomem = 1;
            break;
        }
        mc_cell *rows = (mc_cell *)p->rows.p + p->rows.n * MC_WIDTH;
        o.succ = rows;
        int n = mc_expand(x, p->successors, &o);
        if (n == MC_FAULT) {
            p->fault_sid = sid;
            break;
        }
        if (vec_room(&p->head, 1) || vec_room(&p->fps, (size_t)n) || vec_room(&p->inst, (size_t)n)
            || vec_room(&p->sb, (size_t)n)) {
            p->nomem = 1;
            break;
        }
        Head h = {n, o.terminal, o.bad | o.hit | (o.terminal ? o.ends : 0), o.hit};
        VEC_PUSH(p->head, Head, h);
        for (int j = 0; j < n; j++) {
            mc_cell *out = rows + (size_t)j * MC_WIDTH;
            MC_CANONICAL(p, out);
            ((uint64_t *)p->fps.p)[p->fps.n + (size_t)j] = fp_row(out);
            ((int32_t *)p->inst.p)[p->inst.n + (size_t)j] = p->oinst[j];
            ((uint64_t *)p->sb.p)[p->sb.n + (size_t)j] = p->osb[j];
        }
        p->rows.n += (size_t)n;
        p->fps.n += (size_t)n;
        p->inst.n += (size_t)n;
        p->sb.n += (size_t)n;
    }
    return NULL;
}

/* expand_part of the Part a pointer points to (run_threads hands out pointers). */
static void *expand_indirect(void *arg) { return expand_part(*(Part **)arg); }

/* What a level keeps of expanded state sid: its liveness marks (with MC_STEPS), whether it is
 * terminal, and the first state of each property bit in ``marks`` (bad, hit, ends if terminal). */
static inline int take_state(Ctx *c, int64_t sid, uint64_t hit, uint64_t marks, int terminal)
{
    if (c->edges & MC_STEPS) {  /* the liveness marks of state sid (ids are expanded in order) */
        if (vec_room(&c->marks, 1))
            return MC_NOMEM;
        VEC_PUSH(c->marks, uint64_t, hit);
    }
    if (terminal) {
        if (vec_room(&c->terminal, 1))
            return MC_NOMEM;
        VEC_PUSH(c->terminal, int64_t, sid);
    }
    for (; marks; marks &= marks - 1) {
        int i = __builtin_ctzll(marks);
        if (c->first[i] < 0)
            c->first[i] = sid;
    }
    return 0;
}

/* The counts and the first step of each step property bit in sb, for a step of instance k from
 * sid to the state in row (cells) or frow (its frontier row). */
static inline void count_step(Ctx *c, int64_t sid, int32_t k, uint64_t sb, const mc_cell *row,
                              const unsigned char *frow)
{
    c->fired[k]++;
    for (; sb; sb &= sb - 1) {
        int i = __builtin_ctzll(sb);
        if (c->step_sid[i] < 0) {
            c->step_sid[i] = sid;
            c->step_k[i] = k;
            if (row)
                for (int l = 0; l < MC_WIDTH; l++)  /* packing is exact: the cells are the leaves */
                    c->step_t[i][l] = row[l];
            else
            {
                mc_cell cells[MC_WIDTH];
                frontier_get(cells, frow);
                for (int l = 0; l < MC_WIDTH; l++)
                    c->step_t[i][l] = cells[l];
            }
        }
    }
}

/* Admit one step of instance k from sid to the state in row (its cells) or frow (its frontier
 * row; exactly one given), fingerprint fp, step property bits sb: the counts, the first step
 * of each bit, the state when new, its step. */
static inline int take_step(Ctx *c, int64_t sid, int32_t k, uint64_t sb, uint64_t fp, const mc_cell *row,
                            const unsigned char *frow)
{
    count_step(c, sid, k, sb, row, frow);
    c->admit_k = k;
    int fresh = admit_fp(c, fp, sid);
    if (fresh < 0)
        return MC_NOMEM;
    int r = fresh ? record(c, (int32_t)sid, k, (int64_t)fp, row, frow) : 0;
    if (r == MC_FAULT)
        c->fault_sid = sid;
    if (r)
        return r;
    if (fresh && (c->edges & MC_STEPS) && keep_step(c, sid, k, (int32_t)(c->size - 1)))
        return MC_NOMEM;
    return 0;
}

/* The readiness vectors part p saw first, merged into the context's (parts in state order). */
static void merge_ready(Ctx *c, const Part *p)
{
    for (int v = 0; v < c->vectors; v++)
        if (p->ready_seen[v] && !c->ready_seen[v]) {
            c->ready_seen[v] = 1;
            memcpy(c->ready_row[v], p->ready_row[v], sizeof c->ready_row[v]);
        }
}

/* How a part ended for the level: a fault its thread met (its state kept for the trace), a
 * thread out of memory, or 0. */
static int64_t part_end(Ctx *c, const Part *p)
{
    if (p->fault_sid >= 0) {
        c->fault_sid = p->fault_sid;
        return MC_FAULT;
    }
    return p->nomem ? MC_NOMEM : 0;
}

/* Admit what p found, state by state, as the one-thread loop of mc_level does, looking up each
 * fingerprint here (a level with edges, or one the state bound may cut). */
static int64_t admit_part(Ctx *c, Part *p, int64_t *steps)
{
    const Head *heads = (const Head *)p->head.p;
    const uint64_t *fps = (const uint64_t *)p->fps.p, *sbs = (const uint64_t *)p->sb.p;
    const int32_t *insts = (const int32_t *)p->inst.p;
    const mc_cell *rows = (const mc_cell *)p->rows.p;
    merge_ready(c, p);
    size_t off = 0;
    int64_t sid = p->lo;
    for (size_t h = 0; h < p->head.n; h++, sid++) {
        int n = heads[h].n;
        if (take_state(c, sid, heads[h].hit, heads[h].marks, heads[h].terminal))
            return MC_NOMEM;
        *steps += n;
        for (int j = 0; j < n; j++, off++) {
            if (off + 8 < p->fps.n) {
                uint64_t ahead = fps[off + 8];
                const Shard *sh = &c->shard[shard_of(ahead)];
                __builtin_prefetch(sh->table + slot_of(ahead, sh->mask));
            }
            int r = take_step(c, sid, insts[off], sbs[off], fps[off], rows + off * MC_WIDTH, NULL);
            if (r)
                return r;
        }
    }
    return part_end(c, p);
}

/* One thread's share of the sharded lookup of a chunk's successors. */
typedef struct {
    Ctx *c;
    uint64_t mine;  /* bit s: this thread owns shard s */
    int err;  /* MC_NOMEM or MC_SPILL_FAULT (shard_room), 0: none */
} Prober;

static inline void probe_one(Ctx *c, Part *p, size_t off, Prober *w)
{
    uint64_t fp = ((const uint64_t *)p->fps.p)[off];
    int fresh;
    if (fp == 0) {  /* kept apart, by the thread of shard 0 */
        fresh = !c->has_zero;
        c->has_zero = 1;
    } else {
        Shard *sh = &c->shard[shard_of(fp)];
        size_t i;
        int full = shard_room(c, sh);
        if (full < 0) {
            w->err = full;
            return;
        }
        fresh = !shard_find(sh, fp, &i) && !full;  /* full: the memory bound cuts a new state */
        if (fresh) {
            sh->table[i] = fp;
            sh->used++;
        }
    }
    if (fresh && frontier_put((unsigned char *)p->frows.p + off * MC_FRONTIER_BYTES,
                              (const mc_cell *)p->rows.p + off * MC_WIDTH))
        fresh = ODD;  /* a leaf outside its type's range: admitted, it goes back to Python */
    ((unsigned char *)p->fresh.p)[off] = (unsigned char)fresh;
}

#define PROBE_AHEAD 16  /* own fingerprints whose slots are fetched ahead of their lookup */

/* Look up and insert, in the chunk's order (parts in order, each part's successors in order),
 * the fingerprints of the shards this thread owns (shard % threads is its number): the first
 * occurrence of a new fingerprint is fresh, a later one is not, exactly as admitting them one
 * by one would decide, so the answer does not depend on the number of threads (a thread's body). */
static void *probe_part(void *arg)
{
    Prober *w = arg;
    Ctx *c = w->c;
    for (int q = 0; q < c->threads && !w->err; q++) {
        Part *p = c->parts[q];
        const uint64_t *fps = (const uint64_t *)p->fps.p;
        size_t ring[2 * PROBE_AHEAD];
        unsigned r = 0, n = 0;
        for (size_t off = 0; off < p->fps.n; off++) {
            uint64_t fp = fps[off];
            if (!(w->mine >> shard_of(fp) & 1))
                continue;
            const Shard *sh = &c->shard[shard_of(fp)];
            __builtin_prefetch(sh->table + slot_of(fp, sh->mask));
            ring[n++ % (2 * PROBE_AHEAD)] = off;
            if (n - r > PROBE_AHEAD)
                probe_one(c, p, ring[r++ % (2 * PROBE_AHEAD)], w);
        }
        while (r != n)
            probe_one(c, p, ring[r++ % (2 * PROBE_AHEAD)], w);
    }
    return NULL;
}

/* Admit what p found once the sharded lookup has said which successors are new: state by
 * state in order, the new ones given the next ids. Only the counts, the evidence and the
 * stores of new states are left to this (one) thread. */
static int64_t order_part(Ctx *c, Part *p, int64_t *steps)
{
    const Head *heads = (const Head *)p->head.p;
    const uint64_t *fps = (const uint64_t *)p->fps.p, *sbs = (const uint64_t *)p->sb.p;
    const int32_t *insts = (const int32_t *)p->inst.p;
    const unsigned char *frows = (const unsigned char *)p->frows.p, *fresh = (const unsigned char *)p->fresh.p;
    const mc_cell *rows = (const mc_cell *)p->rows.p;
    merge_ready(c, p);
    size_t off = 0;
    int64_t sid = p->lo;
    for (size_t h = 0; h < p->head.n; h++, sid++) {
        int n = heads[h].n;
        if (take_state(c, sid, heads[h].hit, heads[h].marks, heads[h].terminal))
            return MC_NOMEM;
        *steps += n;
        for (int j = 0; j < n; j++, off++) {
            count_step(c, sid, insts[off], sbs[off], rows + off * MC_WIDTH, NULL);
            if (!fresh[off])
                continue;
            if (!fps[off])
                c->zero_id = (int32_t)c->size;
            int r = fresh[off] == ODD ? MC_FAULT
                : record(c, (int32_t)sid, insts[off], (int64_t)fps[off], NULL, frows + off * MC_FRONTIER_BYTES);
            if (r == MC_FAULT)
                c->fault_sid = sid;
            if (r)
                return r;
        }
    }
    return part_end(c, p);
}

/* Run body(args[i]) for i < t, args[i] on a thread of its own for i > 0 (here when none is to
 * be had) and args[0] on this one; returns once all are done. */
static void run_threads(int t, void *(*body)(void *), void *args, size_t size)
{
    pthread_t tid[MC_MAXTHREADS];
    int started[MC_MAXTHREADS] = {0};
    for (int i = 1; i < t; i++)
        started[i] = pthread_create(&tid[i], NULL, body, (char *)args + i * size) == 0;
    body(args);
    for (int i = 1; i < t; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        else
            body((char *)args + i * size);
    }
}

/* mc_level's loop on c->threads threads: the level in chunks of c->chunk states, each split
 * among the threads and expanded at once; then each thread looks up the chunk's fingerprints
 * of its own shards (probe_part), and this thread gives the new states their ids in state
 * order (order_part). Where the state bound could cut the chunk, or edges are kept (their
 * targets' ids are needed as the steps are taken), this thread admits the chunk step by step
 * (admit_part) instead: the same answer. */
static int64_t level_parallel(Ctx *c, int successors)
{
    int64_t steps = 0;
    int t = c->threads;
    for (int i = 0; i < t; i++)
        if (!c->parts[i]) {
            Part *p = calloc(1, sizeof(Part));
            if (!p)
                return MC_NOMEM;
            p->vectors = c->vectors;
            if (ready_alloc(c->vectors, &p->ready_seen, &p->ready_row)) {
                free(p);
                return MC_NOMEM;
            }
            vec_init(&p->head, sizeof(Head));
            vec_init(&p->rows, sizeof(mc_cell) * MC_WIDTH);
            vec_init(&p->fps, sizeof(uint64_t));
            vec_init(&p->inst, sizeof(int32_t));
            vec_init(&p->sb, sizeof(uint64_t));
            vec_init(&p->fresh, 1);
            vec_init(&p->frows, MC_FRONTIER_BYTES);
            c->parts[i] = p;
        }
    for (int64_t lo = c->lo; lo < c->hi; lo += c->chunk) {
        int64_t hi = lo + c->chunk < c->hi ? lo + c->chunk : c->hi, share = (hi - lo + t - 1) / t;
        Part *ps[MC_MAXTHREADS];
        for (int i = 0; i < t; i++) {
            Part *p = c->parts[i];
            p->c = c;
            p->successors = successors;
            p->lo = lo + i * share < hi ? lo + i * share : hi;
            p->hi = p->lo + share < hi ? p->lo + share : hi;
            ps[i] = p;
        }
        run_threads(t, expand_indirect, ps, sizeof ps[0]);
        size_t successors_seen = 0;
        int stepwise = c->edges != 0;
        for (int i = 0; i < t; i++) {
            successors_seen += c->parts[i]->fps.n;
            if (vec_room(&c->parts[i]->fresh, c->parts[i]->fps.n) || vec_room(&c->parts[i]->frows, c->parts[i]->fps.n))
                return MC_NOMEM;
        }
        if (c->max_states >= 0 && c->size + (int64_t)successors_seen > c->max_states)
            stepwise = 1;  /* the bound may cut this chunk: where, only the step-by-step admission knows */
        if (!stepwise) {
            Prober probers[MC_MAXTHREADS];
            for (int i = 0; i < t; i++) {
                probers[i] = (Prober){c, 0, 0};
                for (int s = i; s < MC_SHARDS; s += t)
                    probers[i].mine |= UINT64_C(1) << s;
            }
            run_threads(t, probe_part, probers, sizeof probers[0]);
            for (int i = 0; i < t; i++)
                if (probers[i].err)
                    return probers[i].err;
        }
        for (int i = 0; i < t; i++) {
            int64_t r = stepwise ? admit_part(c, c->parts[i], &steps) : order_part(c, c->parts[i], &steps);
            if (r < 0)
                return r;
        }
        c->since_trim += hi - lo;
        if (c->spilled && c->since_trim >= SPILL_TRIM)
            spill_trim(c);
    }
    return steps;
}

/* Expand the current level (with or without successors) and admit the next; returns the
 * level's steps, MC_FAULT (a step or property the C code hands back: fault_sid names the
 * state) or MC_NOMEM. The first call takes the seeded states as the current level. */
static int64_t level(Ctx *c, int successors);

int64_t mc_level(Ctx *c, int successors)
{
    int64_t r = level(c, successors);
    return r == MC_NOMEM && spill_failed(c) ? MC_SPILL_FAULT : r;
}

static int64_t level(Ctx *c, int successors)
{
    if (!c->started) {  /* the seeded states become level 0 */
        c->started = 1;
        Vec t = c->cur;
        c->cur = c->next;
        c->next = t;
        c->next.n = 0;
        c->hi = c->size;
    } else if (c->lo == c->hi) {
        return 0;
    }
    mc_cell x[MC_WIDTH];
    Out o = {c->rows, c->inst, c->sb, 0, 0, 0, 0};  /* successors written in place, then canonical */
    int64_t steps = 0;
    c->next.n = 0;
    if (c->threads > 1 && c->hi - c->lo >= 2 * c->threads) {
        steps = level_parallel(c, successors);
        if (steps < 0)
            return steps;
        goto admitted;
    }
    for (int64_t sid = c->lo; sid < c->hi; sid++) {
        frontier_get(x, (const unsigned char *)c->cur.p + (size_t)(sid - c->lo) * MC_FRONTIER_BYTES);
        int n = mc_expand(x, successors, &o);
        if (n == MC_FAULT) {
            c->fault_sid = sid;
            return MC_FAULT;
        }
        if (take_state(c, sid, o.hit, o.bad | o.hit | (o.terminal ? o.ends : 0), o.terminal))
            return MC_NOMEM;
        steps += n;
        for (int j = 0; j < n; j++) {  /* fingerprints first, their slots fetched meanwhile */
            mc_cell *row = c->rows + (size_t)j * MC_WIDTH;
            MC_CANONICAL(c, row);
            c->succ_fp[j] = fp_row(row);
            const Shard *sh = &c->shard[shard_of(c->succ_fp[j])];
            __builtin_prefetch(sh->table + slot_of(c->succ_fp[j], sh->mask));
        }
        for (int j = 0; j < n; j++) {
            int r = take_step(c, sid, c->inst[j], c->sb[j], c->succ_fp[j], c->rows + (size_t)j * MC_WIDTH, NULL);
            if (r)
                return r;
        }
        if (c->spilled && ++c->since_trim >= SPILL_TRIM)
            spill_trim(c);
    }
admitted:;
    Vec t = c->cur;
    c->cur = c->next;
    c->next = t;
    vec_free(&c->next);  /* the expanded level: its rows go, so the two frontier buffers never both hold the largest */
    c->lo = c->hi;
    c->hi = c->size;
    c->depth++;
    c->transitions += steps;
    return steps;
}

/* ------------------------------------------------------------------ what Python reads back */

/* The search is over: free the fingerprint set and the frontier before Python copies the
 * per-state arrays, and each of those once copied (mc_release), so that the copy never
 * doubles the peak. */
void mc_end(Ctx *c)
{
    free_shards(c);
    free_parts(c);
    vec_free(&c->cur);
    vec_free(&c->next);
}

/* A zeroed scratch array of n items for the pass after the search: on the heap when `heap`,
 * else an unlinked file in the spill directory (its reserved blocks read as zeros). 0, MC_NOMEM
 * or MC_SPILL_FAULT. */
static int scratch(Ctx *c, Vec *v, size_t item, size_t n, int heap)
{
    vec_init(v, item);
    n = n ? n : 1;
    if (heap) {
        v->p = calloc(n, item);
        v->cap = v->p ? n : 0;
        return v->p ? 0 : MC_NOMEM;
    }
    v->dir = c->spill_dir;
    if (file_room(v, n)) {
        c->spill_errno = v->err;
        return MC_SPILL_FAULT;
    }
    return 0;
}

#define PASS_LOOK (1 << 10)  /* steps of the pass after the search between two looks at the resident size */
#define PASS_MARGIN ((size_t)8 << 20)  /* what PASS_LOOK steps may touch at most (two pages each) */

/* In the pass after a search that spilled: every PASS_LOOK steps, when the resident size comes
 * within PASS_MARGIN of the budget, drop the mapped pages of the spilled arrays (they stay in
 * their files, and come back when touched). */
static void pass_trim(Ctx *c, uint64_t step, Vec **vs, int k)
{
    if (!c->spilled || c->limit <= 0 || (step & (PASS_LOOK - 1)))
        return;
    if (resident_now(c) + PASS_MARGIN <= (size_t)c->limit)
        return;
    for (int i = 0; i < k; i++)
        vec_trim(vs[i]);
}

/* Whether the reachability graph (tree edges from the parent array, the other steps from
 * pairs) has a cycle: Kahn's peeling of states with no unpeeled predecessor, in O(states +
 * steps). Returns the number of states left unpeeled (0: no cycle; else every cycle lies among
 * them, and mc_array 10 marks them), MC_NOMEM or MC_SPILL_FAULT. Call after mc_end (the set is
 * freed), before releasing parent. Under a budget its four arrays (16 bytes a state and 4 a
 * step) are on the heap when they fit what the budget leaves, else in spill files, and the
 * spilled pages it touches are dropped as the search's are (pass_trim), so its resident peak
 * stays within the budget too. */
int64_t mc_cycle(Ctx *c)
{
    int64_t n = c->size;
    size_t m = c->pairs.n;
    if ((uint64_t)n + m >= UINT32_MAX)
        return MC_NOMEM;
    size_t need = (3 * ((size_t)n + 1) + (size_t)n + m + 1) * sizeof(int32_t) + (size_t)n + 1;
    int room = c->limit > 0 && c->spill_dir[0] ? budget_room(c, need) : 0;
    if (room < 0)
        return room;
    /* read only now: budget_room may have spilled the parents and pairs, which moves them */
    const int32_t *parent = (const int32_t *)c->parent.p, *pairs = (const int32_t *)c->pairs.p;
    Vec vstart, vindeg, vadj, vqueue;
    vec_init(&vstart, 1);
    vec_init(&vindeg, 1);
    vec_init(&vadj, 1);
    vec_init(&vqueue, 1);
    Vec *vs[] = {&c->parent, &c->pairs, &vstart, &vindeg, &vadj, &vqueue, &c->left};
    int64_t left = 0;
    int r = scratch(c, &vstart, sizeof(uint32_t), (size_t)n + 1, !room);
    r = r ? r : scratch(c, &vindeg, sizeof(uint32_t), (size_t)n + 1, !room);
    r = r ? r : scratch(c, &vadj, sizeof(int32_t), (size_t)n + m + 1, !room);
    r = r ? r : scratch(c, &vqueue, sizeof(int32_t), (size_t)n + 1, !room);
    if (!r) {
        vec_free(&c->left);
        r = scratch(c, &c->left, 1, (size_t)n + 1, !room);
    }
    if (r) {
        left = r;
        goto done;
    }
    uint32_t *start = (uint32_t *)vstart.p, *indeg = (uint32_t *)vindeg.p;
    int32_t *adj = (int32_t *)vadj.p, *queue = (int32_t *)vqueue.p;
    uint64_t step = 0;
    for (int64_t v = 0; v < n; v++, pass_trim(c, ++step, vs, 7))
        if (parent[v] >= 0) {
            start[parent[v] + 1]++;
            indeg[v]++;
        }
    for (size_t e = 0; e < m; e++, pass_trim(c, ++step, vs, 7)) {
        start[pairs[2 * e] + 1]++;
        indeg[pairs[2 * e + 1]]++;
    }
    for (int64_t v = 0; v < n; v++, pass_trim(c, ++step, vs, 7))
        start[v + 1] += start[v];
    for (int64_t v = 0; v < n; v++, pass_trim(c, ++step, vs, 7))  /* queue as each state's fill cursor first */
        queue[v] = (int32_t)start[v];
    for (int64_t v = 0; v < n; v++, pass_trim(c, ++step, vs, 7))
        if (parent[v] >= 0)
            adj[queue[parent[v]]++] = (int32_t)v;
    for (size_t e = 0; e < m; e++, pass_trim(c, ++step, vs, 7))
        adj[queue[pairs[2 * e]]++] = pairs[2 * e + 1];
    size_t head = 0, tail = 0;
    for (int64_t v = 0; v < n; v++, pass_trim(c, ++step, vs, 7))
        if (!indeg[v])
            queue[tail++] = (int32_t)v;
    while (head < tail) {
        int32_t v = queue[head++];
        for (uint32_t e = start[v]; e < start[v + 1]; e++, pass_trim(c, ++step, vs, 7))
            if (--indeg[adj[e]] == 0)
                queue[tail++] = adj[e];
    }
    left = n - (int64_t)tail;
    for (int64_t v = 0; v < n; v++, pass_trim(c, ++step, vs, 7))
        ((unsigned char *)c->left.p)[v] = indeg[v] != 0;
    c->left.n = (size_t)n;
done:
    vec_free(&vstart);
    vec_free(&vindeg);
    vec_free(&vadj);
    vec_free(&vqueue);
    return left;
}

int64_t mc_pairs(Ctx *c) { return (int64_t)c->pairs.n; }
int64_t mc_steps(Ctx *c) { return (int64_t)c->steps.n; }
int64_t mc_marks(Ctx *c) { return (int64_t)c->marks.n; }

void mc_release(Ctx *c, int which)
{
    Vec *vs[] = {&c->parent, &c->via, NULL, &c->fps, &c->terminal};
    if (which >= 0 && which < 5 && vs[which])
        vec_free(vs[which]);
    else if (which == 14 || which == 15)
        vec_free(which == 14 ? &c->steps : &c->marks);
}

/* The spill file of array `which` (as mc_array numbers them; -1: on the heap), for Python to
 * map instead of copying. */
int64_t mc_spill_fd(Ctx *c, int which)
{
    Vec *vs[] = {&c->parent, &c->via, NULL, &c->fps, &c->terminal};
    Vec *v = which >= 0 && which < 5 ? vs[which] : which == 14 ? &c->steps : which == 15 ? &c->marks : NULL;
    return v && v->fd >= 0 ? v->fd : -1;
}

int64_t mc_spilled(Ctx *c) { return c->spilled; }
int64_t mc_hit_memory(Ctx *c) { return c->hit_memory; }
int64_t mc_spill_errno(Ctx *c) { return c->spill_errno; }

/* Bytes now in spill files (their reserved size). */
int64_t mc_spill_bytes(Ctx *c)
{
    int64_t bytes = 0;
    for (int i = 0; streamed(c, i); i++)
        if (streamed(c, i)->fd >= 0)
            bytes += (int64_t)(streamed(c, i)->cap * streamed(c, i)->item);
    return bytes;
}

int64_t mc_size(Ctx *c) { return c->size; }
int64_t mc_frontier(Ctx *c) { return c->hi - c->lo; }
int64_t mc_hit_state_bound(Ctx *c) { return c->hit_state_bound; }
int64_t mc_fault_sid(Ctx *c) { return c->fault_sid; }
int64_t mc_terminals(Ctx *c) { return (int64_t)c->terminal.n; }
int64_t mc_width(void) { return MC_WIDTH; }
int64_t mc_instances(void) { return MC_INSTANCES; }
int64_t mc_cell_size(void) { return sizeof(mc_cell); }
int64_t mc_via_size(void) { return sizeof(mc_via); }
const void *mc_array(Ctx *c, int which)
{
    switch (which) {
    case 0: return c->parent.p;
    case 1: return c->via.p;
    case 2: return NULL;  /* depths: Python counts each level's states */
    case 3: return c->fps.p;
    case 4: return c->terminal.p;
    case 5: return c->fired;
    case 6: return c->first;
    case 7: return c->step_sid;
    case 8: return c->step_k;
    case 9: return c->step_t;
    case 10: return c->left.p;
    case 11: return c->pairs.p;
    case 12: return c->ready_seen;
    case 13: return c->ready_row;
    case 14: return c->steps.p;
    case 15: return c->marks.p;
    }
    return NULL;
}

/* ------------------------------------------------------------------ the partitioned search
 *
 * What modelcheck/explicit/distributed.py asks of C: a level's packed rows expanded in a batch
 * (successor rows, their fingerprints, the source row and the instance of each step) and a
 * set of 64-bit fingerprints that says which of a batch are new. The rank that owns a state
 * is chosen from the fingerprint's high bits; this set's slot from its low bits, so the
 * states one rank owns still spread over all of its slots. */

/* Expand rows [0, n) with or without successors until fewer than MC_INSTANCES output rows
 * are left of cap; returns the rows consumed, or MC_FAULT (counts[2] names the row).
 * counts[0]: successors written, counts[1]: terminal rows among those consumed.
 * state_mask[i]: the properties row i violates or witnesses (at_end ones when terminal);
 * out_smask[j]: the step properties step j violates. */
int64_t mc_expand_rows(const mc_cell *rows, int64_t n, int successors, int64_t cap, mc_cell *out_rows,
                       uint64_t *out_fp, int32_t *out_src, int32_t *out_inst, uint64_t *out_smask,
                       uint64_t *state_mask, int64_t *counts)
{
    int32_t *inst = malloc(sizeof(int32_t) * MC_INSTANCES);
    uint64_t *sb = malloc(sizeof(uint64_t) * MC_INSTANCES);
    if (!inst || !sb) {
        free(inst);
        free(sb);
        return MC_NOMEM;
    }
    Out o = {NULL, inst, sb, 0, 0, 0, 0};
    int64_t i = 0, w = 0, terminals = 0;
    for (; i < n && cap - w >= MC_INSTANCES; i++) {
        o.succ = out_rows + (size_t)w * MC_WIDTH;  /* room for MC_INSTANCES rows: written in place */
        int m = mc_expand(rows + (size_t)i * MC_WIDTH, successors, &o);
        if (m == MC_FAULT) {
            counts[2] = i;
            free(inst);
            free(sb);
            return MC_FAULT;
        }
        state_mask[i] = o.bad | o.hit | (o.terminal ? o.ends : 0);
        terminals += o.terminal != 0;
        for (int j = 0; j < m; j++, w++) {
            out_fp[w] = fp_row(out_rows + (size_t)w * MC_WIDTH);
            out_src[w] = (int32_t)i;
            out_inst[w] = inst[j];
            out_smask[w] = sb[j];
        }
    }
    counts[0] = w;
    counts[1] = terminals;
    free(inst);
    free(sb);
    return i;
}

/* The fingerprints of n packed rows. */
void mc_fingerprint_rows(const mc_cell *rows, int64_t n, uint64_t *out)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = fp_row(rows + (size_t)i * MC_WIDTH);
}

typedef struct {
    uint64_t *table;  /* open addressing, linear probing, at most half full; 0 is kept apart */
    size_t mask, used;
    int has_zero;
} DSet;

DSet *mc_dset_new(void)
{
    DSet *s = calloc(1, sizeof(DSet));
    if (!s)
        return NULL;
    s->mask = (1 << 16) - 1;
    s->table = calloc(s->mask + 1, sizeof(uint64_t));
    if (!s->table) {
        free(s);
        return NULL;
    }
    return s;
}

void mc_dset_free(DSet *s)
{
    if (s) {
        free(s->table);
        free(s);
    }
}

int64_t mc_dset_size(DSet *s) { return (int64_t)s->used + s->has_zero; }
int64_t mc_dset_bytes(DSet *s) { return (int64_t)((s->mask + 1) * sizeof(uint64_t)); }

static int dset_grow(DSet *s)
{
    size_t size = (s->mask + 1) * 2;
    uint64_t *t = calloc(size, sizeof(uint64_t));
    if (!t)
        return -1;
    for (size_t i = 0; i <= s->mask; i++) {
        uint64_t fp = s->table[i];
        if (fp) {
            size_t j = (size_t)fp & (size - 1);
            while (t[j])
                j = (j + 1) & (size - 1);
            t[j] = fp;
        }
    }
    free(s->table);
    s->table = t;
    s->mask = size - 1;
    return 0;
}

static inline int dset_put(DSet *s, uint64_t fp, int insert)
{
    if (fp == 0) {
        int is_new = !s->has_zero;
        if (insert)
            s->has_zero = 1;
        return is_new;
    }
    size_t i = (size_t)fp & s->mask;
    while (s->table[i] && s->table[i] != fp)
        i = (i + 1) & s->mask;
    if (s->table[i])
        return 0;
    if (insert) {
        s->table[i] = fp;
        if (++s->used * 2 > s->mask + 1 && dset_grow(s))
            return MC_NOMEM;
    }
    return 1;
}

#define DSET_AHEAD 8  /* fingerprints whose slots are fetched ahead of their lookup */

/* Insert fps[0..n) in order; fresh[i] = 1 when fps[i] was absent (a repeat within the batch
 * is not fresh). With insert 0 only looks. Returns the fresh count, or MC_NOMEM. */
int64_t mc_dset_insert(DSet *s, const uint64_t *fps, int64_t n, uint8_t *fresh, int insert)
{
    int64_t count = 0;
    for (int64_t k = 0; k < n; k++) {
        if (k + DSET_AHEAD < n)
            __builtin_prefetch(s->table + ((size_t)fps[k + DSET_AHEAD] & s->mask));
        int is_new = dset_put(s, fps[k], insert);
        if (is_new < 0)
            return MC_NOMEM;
        fresh[k] = (uint8_t)is_new;
        count += is_new;
    }
    return count;
}

/* The message records of a batch: per step its fingerprint, its source's fingerprint
 * (src_fps[src]), its instance and its row, at 0, 8, 16 and 20 of each itemsize-byte record,
 * sorted (stably) by owner rank: the top 32 bits of the fingerprint scaled to nranks.
 * counts[r]: the records for rank r. */
void mc_pack_records(const mc_cell *rows, const uint64_t *fps, const int32_t *src, const int32_t *inst, int64_t n,
                     const uint64_t *src_fps, int64_t nranks, int64_t *counts, char *out, int64_t itemsize)
{
    int64_t *at = calloc((size_t)nranks + 1, sizeof(int64_t));
    for (int64_t r = 0; r < nranks; r++)
        counts[r] = 0;
    for (int64_t j = 0; j < n; j++)
        counts[((fps[j] >> 32) * (uint64_t)nranks) >> 32]++;
    for (int64_t r = 0; r < nranks; r++)
        at[r + 1] = at[r] + counts[r];
    for (int64_t j = 0; j < n; j++) {
        int64_t r = (int64_t)(((fps[j] >> 32) * (uint64_t)nranks) >> 32);
        char *rec = out + (size_t)(at[r]++) * (size_t)itemsize;
        memcpy(rec, &fps[j], 8);
        memcpy(rec + 8, &src_fps[src[j]], 8);
        memcpy(rec + 16, &inst[j], 4);
        memcpy(rec + 20, rows + (size_t)j * MC_WIDTH, ROW_BYTES);
    }
    free(at);
}

/* Admit received records: each one whose fingerprint is new is inserted and moved down to
 * the front (in order); returns how many, or MC_NOMEM. With level (the next level's states so
 * far), *back counts the records that reach a state of the same or an older level. */
int64_t mc_dset_admit(DSet *s, char *recs, int64_t n, int64_t itemsize, DSet *level, int64_t *back)
{
    int64_t w = 0;
    for (int64_t k = 0; k < n; k++) {
        uint64_t fp, ahead;
        if (k + DSET_AHEAD < n) {
            memcpy(&ahead, recs + (size_t)(k + DSET_AHEAD) * (size_t)itemsize, 8);
            __builtin_prefetch(s->table + ((size_t)ahead & s->mask));
        }
        memcpy(&fp, recs + (size_t)k * (size_t)itemsize, 8);
        int is_new = dset_put(s, fp, 1);
        if (is_new < 0)
            return MC_NOMEM;
        if (is_new) {
            if (level && dset_put(level, fp, 1) < 0)
                return MC_NOMEM;
            if (w != k)
                memcpy(recs + (size_t)w * (size_t)itemsize, recs + (size_t)k * (size_t)itemsize, (size_t)itemsize);
            w++;
        } else if (level && dset_put(level, fp, 0)) {
            (*back)++;
        }
    }
    return w;
}
