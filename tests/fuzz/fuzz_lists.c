/*
 * fuzz_lists - the intrusive list helpers of src/base/base.h and the ready queue of src/core/core.h (push_back,
 * push_front, remove, splice_back, and the loop's ready queue built on
 * them) against a model: an array of node ids per list.
 *
 * Input: a sequence of operations, 3 bytes each (op, a, b).  After every
 * operation each list is walked forwards and backwards and must hold
 * exactly the model's nodes in the model's order, every link must be
 * mirrored (n->next->prev == n), and a node in no list must point at
 * itself (so that a second remove is harmless, as documented).
 */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NLISTS 4  /* list 0 is a loop's ready queue, driven through corio__ready_push/remove */
#define NNODES 24

typedef struct fnode {
    corio__node node; /* node.link: the list link, as in the library's ready queue */
    int id;
} fnode;

static corio_loop ready_loop; /* only .ready is used */
static corio_list heads[NLISTS];
static fnode nodes[NNODES];
static int model[NLISTS][NNODES];
static int mlen[NLISTS];
static int where[NNODES]; /* list of each node, -1 if none */

#define FAIL(...) do { fprintf(stderr, "fuzz_lists: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

static corio_list *head(int l) { return l == 0 ? &ready_loop.ready : &heads[l]; }

static void check(void) {
    for (int l = 0; l < NLISTS; l++) {
        corio_list *h = head(l);
        if (corio__list_empty(h) != (mlen[l] == 0)) FAIL("list %d: empty() %d, model has %d", l, corio__list_empty(h), mlen[l]);
        int k = 0;
        corio__list_foreach(it, h) {
            if (k >= mlen[l]) FAIL("list %d: more nodes than the model's %d", l, mlen[l]);
            if (it->next->prev != it || it->prev->next != it) FAIL("list %d: links not mirrored at %d", l, k);
            fnode *n = corio__container_of(it, fnode, node.link);
            if (n->id != model[l][k]) FAIL("list %d: position %d holds %d, model %d", l, k, n->id, model[l][k]);
            k++;
        }
        if (k != mlen[l]) FAIL("list %d: %d nodes, model %d", l, k, mlen[l]);
        k = mlen[l];
        for (corio_list *it = h->prev; it != h; it = it->prev) {
            fnode *n = corio__container_of(it, fnode, node.link);
            if (--k < 0 || n->id != model[l][k]) FAIL("list %d: backward walk differs at %d", l, k);
        }
        if (h->next->prev != h || h->prev->next != h) FAIL("list %d: head links not mirrored", l);
    }
    for (int i = 0; i < NNODES; i++)
        if (where[i] < 0 && (nodes[i].node.link.next != &nodes[i].node.link || nodes[i].node.link.prev != &nodes[i].node.link))
            FAIL("node %d is in no list but does not point at itself", i);
}

static void model_insert(int l, int pos, int id) {
    memmove(&model[l][pos + 1], &model[l][pos], (size_t)(mlen[l] - pos) * sizeof(int));
    model[l][pos] = id;
    mlen[l]++;
    where[id] = l;
}

static void model_remove(int id) {
    int l = where[id];
    if (l < 0) return;
    int pos = 0;
    while (model[l][pos] != id) pos++;
    memmove(&model[l][pos], &model[l][pos + 1], (size_t)(mlen[l] - pos - 1) * sizeof(int));
    mlen[l]--;
    where[id] = -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    memset(&ready_loop, 0, sizeof ready_loop);
    corio__list_init(&ready_loop.ready);
    for (int l = 1; l < NLISTS; l++) corio__list_init(&heads[l]);
    for (int i = 0; i < NNODES; i++) {
        corio__list_init(&nodes[i].node.link);
        nodes[i].id = i;
        where[i] = -1;
    }
    memset(mlen, 0, sizeof mlen);
    check();
    for (size_t p = 0; p + 3 <= size && p < 3 * 4096; p += 3) {
        int op = data[p] % 6, l = data[p + 1] % NLISTS, n = data[p + 2] % NNODES;
        int l2 = data[p + 2] % NLISTS;
        switch (op) {
        case 0: /* push_back (a node must be in no list first: precondition) */
            if (where[n] >= 0) break;
            if (l == 0) corio__ready_push(&ready_loop, &nodes[n].node);
            else corio__list_push_back(head(l), &nodes[n].node.link);
            model_insert(l, mlen[l], n);
            break;
        case 1: /* push_front */
            if (where[n] >= 0 || l == 0) break; /* the ready queue has no push_front */
            corio__list_push_front(head(l), &nodes[n].node.link);
            model_insert(l, 0, n);
            break;
        case 2: /* remove: also on a node in no list, which must be harmless */
            n = data[p + 1] % NNODES;
            if (where[n] == 0) corio__ready_remove(&ready_loop, &nodes[n].node);
            else if (where[n] < 0 && (data[p + 2] & 1)) corio__ready_remove(&ready_loop, &nodes[n].node); /* unlinked: a no-op */
            else corio__list_remove(&nodes[n].node.link);
            model_remove(n);
            break;
        case 3: /* splice_back(to = l, from = l2), the ready queue included (the loop keeps no count of it) */
            if (l == l2) break;
            corio__list_splice_back(head(l), head(l2));
            for (int i = 0; i < mlen[l2]; i++) {
                model[l][mlen[l]++] = model[l2][i];
                where[model[l2][i]] = l;
            }
            mlen[l2] = 0;
            break;
        case 4: /* pop the front of a list, as the scheduler does */
            if (corio__list_empty(head(l))) break;
            {
                fnode *f = corio__container_of(head(l)->next, fnode, node.link);
                if (f->id != model[l][0]) FAIL("list %d: front %d, model %d", l, f->id, model[l][0]);
                if (l == 0) corio__ready_remove(&ready_loop, &f->node);
                else corio__list_remove(&f->node.link);
                model_remove(f->id);
            }
            break;
        default: /* splice the ready queue's whole content to a batch list (run_once) */
            if (l == 0) break;
            corio__list_splice_back(head(l), &ready_loop.ready);
            for (int i = 0; i < mlen[0]; i++) {
                model[l][mlen[l]++] = model[0][i];
                where[model[0][i]] = l;
            }
            mlen[0] = 0;
            break;
        }
        check();
    }
    return 0;
}
