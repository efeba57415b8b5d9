/* The native search: modelcheck's compact-store BFS in C, around one configuration's generated
 * successor function.
 *
 * modelcheck/native.py prepends the configuration's constants (MC_WIDTH leaves, MC_INSTANCES
 * action instances, the frontier's cell type mc_cell) and splices the C translation of the
 * compiled mode's expand function (modelcheck/cgen.py) at the marker below. The search is the
 * one of modelcheck/explicit.py with the compact store, state for state:
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
 * The fingerprint set is open addressing with linear probing over 64-bit keys, at most half
 * full (0 is kept apart). Nothing here allocates per state but the growing arrays.
 *
 * With edges on (a search judging an `at_end` property, which fails on any cycle), the set
 * also keeps each fingerprint's id, and every step into a state already stored is kept as an
 * int32 (source, target) pair; with the parent array (the steps that found a state) they are
 * the whole reachability graph, which mc_cycle peels (Kahn) to find whether it has a cycle.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MC_FAULT (-1)
#define MC_NOMEM (-2)
#define MC_MAXPROPS 64

typedef struct {
    int64_t *succ;  /* MC_INSTANCES rows of MC_WIDTH leaves */
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

/* @EXPAND@ */

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

static inline void pack(mc_cell *row, const int64_t *x)
{
    for (int i = 0; i < MC_WIDTH; i++)
        row[i] = (mc_cell)x[i];
}

/* The fingerprint of flat state x (Python rebuilds traces with it). */
int64_t mc_fingerprint(const int64_t *x)
{
    mc_cell row[MC_WIDTH];
    pack(row, x);
    return (int64_t)fp_row(row);
}

/* ------------------------------------------------------------------ growing arrays */

typedef struct {
    char *p;
    size_t n, cap, item;
} Vec;

static int vec_room(Vec *v, size_t more)
{
    if (v->n + more <= v->cap)
        return 0;
    size_t cap = v->cap ? v->cap : 1024;
    while (cap < v->n + more)
        cap *= 2;
    char *p = realloc(v->p, cap * v->item);
    if (!p)
        return -1;
    v->p = p;
    v->cap = cap;
    return 0;
}

#define VEC_PUSH(v, type, value) (((type *)(v).p)[(v).n++] = (value))

/* ------------------------------------------------------------------ the search */

typedef struct {
    int64_t max_states;  /* -1: no bound */
    int64_t size, lo, hi, transitions, fault_sid;
    uint32_t depth;
    int hit_state_bound;
    Vec parent, via, depthv, fps, terminal, cur, next, pairs, left;
    uint64_t *table;
    int32_t *ids;  /* with edges on: the id of table[i]'s state */
    size_t mask, used;
    int has_zero, started, edges;
    int32_t zero_id;
    int64_t fired[MC_INSTANCES];
    int64_t first[MC_MAXPROPS];
    int64_t step_sid[MC_MAXPROPS], step_k[MC_MAXPROPS];
    int64_t step_t[MC_MAXPROPS][MC_WIDTH];
    int64_t succ[MC_INSTANCES * MC_WIDTH];
    int32_t inst[MC_INSTANCES];
    uint64_t sb[MC_INSTANCES];
    mc_cell rows[MC_INSTANCES * MC_WIDTH];  /* one state's successors, packed */
    uint64_t succ_fp[MC_INSTANCES];
} Ctx;

static inline size_t slot_of(uint64_t fp, size_t mask)
{
    fp ^= fp >> 33;
    fp *= 0xff51afd7ed558ccdULL;
    fp ^= fp >> 33;
    return (size_t)fp & mask;
}

static int table_grow(Ctx *c)
{
    size_t size = (c->mask + 1) * 2;
    uint64_t *t = calloc(size, sizeof(uint64_t));
    int32_t *ids = c->edges ? malloc(size * sizeof(int32_t)) : NULL;
    if (!t || (c->edges && !ids)) {
        free(t);
        free(ids);
        return -1;
    }
    for (size_t i = 0; i <= c->mask; i++) {
        uint64_t fp = c->table[i];
        if (fp) {
            size_t j = slot_of(fp, size - 1);
            while (t[j])
                j = (j + 1) & (size - 1);
            t[j] = fp;
            if (ids)
                ids[j] = c->ids[i];
        }
    }
    free(c->table);
    free(c->ids);
    c->table = t;
    c->ids = ids;
    c->mask = size - 1;
    return 0;
}

static void vec_init(Vec *v, size_t item)
{
    v->p = NULL;
    v->n = v->cap = 0;
    v->item = item;
}

void mc_free(Ctx *c)
{
    if (!c)
        return;
    Vec *vs[] = {&c->parent, &c->via, &c->depthv, &c->fps, &c->terminal, &c->cur, &c->next, &c->pairs,
                 &c->left};
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++)
        free(vs[i]->p);
    free(c->table);
    free(c->ids);
    free(c);
}

Ctx *mc_new(int64_t max_states, int edges)
{
    Ctx *c = calloc(1, sizeof(Ctx));
    if (!c)
        return NULL;
    c->max_states = max_states;
    c->fault_sid = -1;
    vec_init(&c->parent, sizeof(int32_t));
    vec_init(&c->via, sizeof(int32_t));
    vec_init(&c->depthv, sizeof(uint32_t));
    vec_init(&c->fps, sizeof(int64_t));
    vec_init(&c->terminal, sizeof(int64_t));
    vec_init(&c->cur, sizeof(mc_cell) * MC_WIDTH);
    vec_init(&c->next, sizeof(mc_cell) * MC_WIDTH);
    vec_init(&c->pairs, 2 * sizeof(int32_t));
    vec_init(&c->left, 1);
    c->edges = edges;
    c->mask = (1 << 16) - 1;
    c->table = calloc(c->mask + 1, sizeof(uint64_t));
    c->ids = edges ? malloc((c->mask + 1) * sizeof(int32_t)) : NULL;
    if (!c->table || (edges && !c->ids)) {
        mc_free(c);
        return NULL;
    }
    for (int i = 0; i < MC_MAXPROPS; i++)
        c->first[i] = c->step_sid[i] = -1;
    return c;
}

/* With edges on, the step from src into stored state dst (src < 0: an initial state). */
static int edge(Ctx *c, int64_t src, int32_t dst)
{
    if (!c->edges || src < 0)
        return 0;
    if (vec_room(&c->pairs, 1))
        return MC_NOMEM;
    ((int32_t *)c->pairs.p)[2 * c->pairs.n] = (int32_t)src;
    ((int32_t *)c->pairs.p)[2 * c->pairs.n + 1] = dst;
    c->pairs.n++;
    return 0;
}

/* Insert fp (a step from src) when absent and the state bound allows a new state; 1 if it is
 * new (its id is c->size), 0 if seen (or cut by the bound), MC_NOMEM. */
static int admit_fp(Ctx *c, uint64_t fp, int64_t src)
{
    size_t i = 0;
    if (fp == 0) {
        if (c->has_zero)
            return edge(c, src, c->zero_id);
    } else {
        i = slot_of(fp, c->mask);
        while (c->table[i]) {
            if (c->table[i] == fp)
                return c->ids ? edge(c, src, c->ids[i]) : 0;
            i = (i + 1) & c->mask;
        }
    }
    if (c->max_states >= 0 && c->size >= c->max_states) {
        c->hit_state_bound = 1;
        return 0;
    }
    if (c->size >= INT32_MAX)  /* ids are int32, as in the Python search's arrays */
        return MC_NOMEM;
    if (fp == 0) {
        c->has_zero = 1;
        c->zero_id = (int32_t)c->size;
    } else {
        c->table[i] = fp;
        if (c->ids)
            c->ids[i] = (int32_t)c->size;
        if (++c->used * 2 > c->mask + 1 && table_grow(c))
            return MC_NOMEM;
    }
    return 1;
}

static int record(Ctx *c, int32_t parent, int32_t via, int64_t fp, const mc_cell *row)
{
    if (c->size >= INT32_MAX)  /* ids are int32, as in the Python search's arrays */
        return MC_NOMEM;
    if (vec_room(&c->parent, 1) || vec_room(&c->via, 1) || vec_room(&c->depthv, 1) || vec_room(&c->fps, 1)
        || vec_room(&c->next, 1))
        return MC_NOMEM;
    VEC_PUSH(c->parent, int32_t, parent);
    VEC_PUSH(c->via, int32_t, via);
    VEC_PUSH(c->depthv, uint32_t, c->depth + (parent >= 0));
    VEC_PUSH(c->fps, int64_t, fp);
    memcpy((mc_cell *)c->next.p + c->next.n * MC_WIDTH, row, ROW_BYTES);
    c->next.n++;
    c->size++;
    return 0;
}

/* An initial state: its id, -1 when it equals an earlier one, MC_NOMEM. Initial states
 * form level 0; mc_level moves them to the frontier. */
int64_t mc_seed(Ctx *c, const int64_t *x)
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
    if (record(c, -1, -1, fp, row))
        return MC_NOMEM;
    return c->size - 1;
}

/* Expand the current level (with or without successors) and admit the next; returns the
 * level's steps, MC_FAULT (a step or property the C code hands back: fault_sid names the
 * state) or MC_NOMEM. The first call takes the seeded states as the current level. */
int64_t mc_level(Ctx *c, int successors)
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
    int64_t x[MC_WIDTH];
    Out o = {c->succ, c->inst, c->sb, 0, 0, 0, 0};
    int64_t steps = 0;
    c->next.n = 0;
    for (int64_t sid = c->lo; sid < c->hi; sid++) {
        const mc_cell *row = (const mc_cell *)c->cur.p + (size_t)(sid - c->lo) * MC_WIDTH;
        for (int i = 0; i < MC_WIDTH; i++)
            x[i] = row[i];
        int n = mc_expand(x, successors, &o);
        if (n == MC_FAULT) {
            c->fault_sid = sid;
            return MC_FAULT;
        }
        uint64_t m = o.bad | o.hit | (o.terminal ? o.ends : 0);
        if (o.terminal) {
            if (vec_room(&c->terminal, 1))
                return MC_NOMEM;
            VEC_PUSH(c->terminal, int64_t, sid);
        }
        for (; m; m &= m - 1) {
            int i = __builtin_ctzll(m);
            if (c->first[i] < 0)
                c->first[i] = sid;
        }
        steps += n;
        for (int j = 0; j < n; j++) {  /* fingerprints first, their slots fetched meanwhile */
            mc_cell *row = c->rows + (size_t)j * MC_WIDTH;
            pack(row, c->succ + (size_t)j * MC_WIDTH);
            c->succ_fp[j] = fp_row(row);
            __builtin_prefetch(c->table + slot_of(c->succ_fp[j], c->mask));
        }
        for (int j = 0; j < n; j++) {
            int32_t k = c->inst[j];
            c->fired[k]++;
            for (uint64_t b = c->sb[j]; b; b &= b - 1) {
                int i = __builtin_ctzll(b);
                if (c->step_sid[i] < 0) {
                    c->step_sid[i] = sid;
                    c->step_k[i] = k;
                    memcpy(c->step_t[i], c->succ + (size_t)j * MC_WIDTH, sizeof(c->step_t[i]));
                }
            }
            int fresh = admit_fp(c, c->succ_fp[j], sid);
            if (fresh < 0 || (fresh && record(c, (int32_t)sid, k, (int64_t)c->succ_fp[j],
                                               c->rows + (size_t)j * MC_WIDTH)))
                return MC_NOMEM;
        }
    }
    Vec t = c->cur;
    c->cur = c->next;
    c->next = t;
    c->next.n = 0;
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
    free(c->table);
    free(c->ids);
    c->table = NULL;
    c->ids = NULL;
    c->mask = 0;
    free(c->cur.p);
    free(c->next.p);
    c->cur.p = c->next.p = NULL;
    c->cur.n = c->next.n = c->cur.cap = c->next.cap = 0;
}

/* Whether the reachability graph (tree edges from the parent array, the other steps from
 * pairs) has a cycle: Kahn's peeling of states with no unpeeled predecessor, in O(states +
 * steps). Returns the number of states left unpeeled (0: no cycle; else every cycle lies among
 * them, and mc_array 10 marks them), or MC_NOMEM. Call after mc_end, before releasing parent. */
int64_t mc_cycle(Ctx *c)
{
    int64_t n = c->size;
    size_t m = c->pairs.n;
    const int32_t *parent = (const int32_t *)c->parent.p, *pairs = (const int32_t *)c->pairs.p;
    if ((uint64_t)n + m >= UINT32_MAX)
        return MC_NOMEM;
    uint32_t *start = calloc((size_t)n + 1, sizeof(uint32_t)), *indeg = calloc((size_t)n + 1, sizeof(uint32_t));
    int32_t *adj = malloc(((size_t)n + m + 1) * sizeof(int32_t)), *queue = malloc(((size_t)n + 1) * sizeof(int32_t));
    int64_t left = MC_NOMEM;
    if (!start || !indeg || !adj || !queue || vec_room(&c->left, (size_t)n + 1))
        goto done;
    for (int64_t v = 0; v < n; v++)
        if (parent[v] >= 0) {
            start[parent[v] + 1]++;
            indeg[v]++;
        }
    for (size_t e = 0; e < m; e++) {
        start[pairs[2 * e] + 1]++;
        indeg[pairs[2 * e + 1]]++;
    }
    for (int64_t v = 0; v < n; v++)
        start[v + 1] += start[v];
    for (int64_t v = 0; v < n; v++)  /* queue as each state's fill cursor first */
        queue[v] = (int32_t)start[v];
    for (int64_t v = 0; v < n; v++)
        if (parent[v] >= 0)
            adj[queue[parent[v]]++] = (int32_t)v;
    for (size_t e = 0; e < m; e++)
        adj[queue[pairs[2 * e]]++] = pairs[2 * e + 1];
    size_t head = 0, tail = 0;
    for (int64_t v = 0; v < n; v++)
        if (!indeg[v])
            queue[tail++] = (int32_t)v;
    while (head < tail) {
        int32_t v = queue[head++];
        for (uint32_t e = start[v]; e < start[v + 1]; e++)
            if (--indeg[adj[e]] == 0)
                queue[tail++] = adj[e];
    }
    left = n - (int64_t)tail;
    for (int64_t v = 0; v < n; v++)
        ((unsigned char *)c->left.p)[v] = indeg[v] != 0;
    c->left.n = (size_t)n;
done:
    free(start);
    free(indeg);
    free(adj);
    free(queue);
    return left;
}

int64_t mc_pairs(Ctx *c) { return (int64_t)c->pairs.n; }

void mc_release(Ctx *c, int which)
{
    Vec *vs[] = {&c->parent, &c->via, &c->depthv, &c->fps, &c->terminal};
    if (which >= 0 && which < 5) {
        free(vs[which]->p);
        vs[which]->p = NULL;
        vs[which]->n = vs[which]->cap = 0;
    }
}

int64_t mc_size(Ctx *c) { return c->size; }
int64_t mc_frontier(Ctx *c) { return c->hi - c->lo; }
int64_t mc_hit_state_bound(Ctx *c) { return c->hit_state_bound; }
int64_t mc_fault_sid(Ctx *c) { return c->fault_sid; }
int64_t mc_terminals(Ctx *c) { return (int64_t)c->terminal.n; }
int64_t mc_width(void) { return MC_WIDTH; }
int64_t mc_instances(void) { return MC_INSTANCES; }
int64_t mc_cell_size(void) { return sizeof(mc_cell); }
const void *mc_array(Ctx *c, int which)
{
    switch (which) {
    case 0: return c->parent.p;
    case 1: return c->via.p;
    case 2: return c->depthv.p;
    case 3: return c->fps.p;
    case 4: return c->terminal.p;
    case 5: return c->fired;
    case 6: return c->first;
    case 7: return c->step_sid;
    case 8: return c->step_k;
    case 9: return c->step_t;
    case 10: return c->left.p;
    case 11: return c->pairs.p;
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
    int64_t *succ = malloc(sizeof(int64_t) * MC_INSTANCES * MC_WIDTH);
    int32_t *inst = malloc(sizeof(int32_t) * MC_INSTANCES);
    uint64_t *sb = malloc(sizeof(uint64_t) * MC_INSTANCES);
    if (!succ || !inst || !sb) {
        free(succ);
        free(inst);
        free(sb);
        return MC_NOMEM;
    }
    Out o = {succ, inst, sb, 0, 0, 0, 0};
    int64_t x[MC_WIDTH], i = 0, w = 0, terminals = 0;
    for (; i < n && cap - w >= MC_INSTANCES; i++) {
        const mc_cell *row = rows + (size_t)i * MC_WIDTH;
        for (int j = 0; j < MC_WIDTH; j++)
            x[j] = row[j];
        int m = mc_expand(x, successors, &o);
        if (m == MC_FAULT) {
            counts[2] = i;
            free(succ);
            free(inst);
            free(sb);
            return MC_FAULT;
        }
        state_mask[i] = o.bad | o.hit | (o.terminal ? o.ends : 0);
        terminals += o.terminal != 0;
        for (int j = 0; j < m; j++, w++) {
            mc_cell *t = out_rows + (size_t)w * MC_WIDTH;
            pack(t, succ + (size_t)j * MC_WIDTH);
            out_fp[w] = fp_row(t);
            out_src[w] = (int32_t)i;
            out_inst[w] = inst[j];
            out_smask[w] = sb[j];
        }
    }
    counts[0] = w;
    counts[1] = terminals;
    free(succ);
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
