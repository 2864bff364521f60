// btree — an in-memory B-tree index (up to 8 keys and 9 children per node) under a seeded mix of
// lookups, inserts and deletes around a steady number of keys.
//
// Models: the B-tree of seed 003 (Lightning DB), whose nodes keep their entries in
// SmallVec<[KeyEntry; 8]> and their children in SmallVec<[u32; 9]> instead of Vec: node memory
// comes from a blocks strategy (one pool of node-sized blocks, as a database keeps one pool per
// node type), and each node's entry list and child list come from the vector strategy. A strategy
// that provides only one of the two families gets the plain std way for the other (global
// operator new for nodes, std::vector for the lists), so small_vector against std shows the
// vector family alone (claim L3-1, read on btree_wide: see below) and fixed_pool against std the
// node pool alone (claim A2-2).
// Does not model: pages on disk, latches, variable-length keys, or bulk loading (the node's size
// in bytes depends on the vector type: an inline vector makes it larger).
//
// The tree splits a full node (max_keys) before descending into it and tops up a minimal child
// ((max_keys - 1) / 2 keys) before descending for a delete, so lists never exceed max_keys entries
// and max_keys + 1 children. Here max_keys is 8, the inline capacity (8 entries, 9 children): no
// list ever spills, so small_vector's saving is set by construction (all of std's list
// allocations). btree_wide (workloads/btree_wide.hpp) is the same tree with the node size of real
// B-trees, whose lists do spill. Keys are drawn from 2 x working_set values, so about half are
// present; operations: 50% lookup, 25% insert (update if present), 25% delete.
// Digest: every lookup's value (or a miss) and every deleted value, read from the nodes, and a
// final in-order walk.
#pragma once

#include "allocproof/registry.hpp"
#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"
#include "workloads/support/tagged_blocks.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <vector>

namespace allocproof::workloads {

// The tree of both B-tree workloads: nodes of up to MaxKeys entries, whose lists a vector
// strategy keeps inline up to InlineEntries entries and InlineEntries + 1 children.
template <std::size_t MaxKeys, std::size_t InlineEntries>
struct btree_core {
    static constexpr std::size_t max_keys = MaxKeys;
    static constexpr std::size_t min_keys = (max_keys - 1) / 2;  // two minimal nodes and a key fit in one
    static constexpr std::size_t inline_entries = InlineEntries;
    static_assert(min_keys >= 1);

    template <class S>
    static constexpr bool uses_blocks =
        support::serves_tagged_blocks<S>&& S::traits.frees_individually && !S::traits.may_refuse;
    template <class S>
    static constexpr bool uses_vector = S::traits.provides_vector;

    template <class S>
    static constexpr bool accepts = uses_blocks<S> || uses_vector<S>;

    template <class S, class T, std::size_t N>
    struct vector_of {
        using type = std::vector<T>;
    };
    template <class S, class T, std::size_t N>
    requires uses_vector<S>
    struct vector_of<S, T, N> {
        using type = typename S::template vector<T, N>;
    };

    template <class S>
    class worker {
    public:
        worker(const workload_params& params, unsigned thread_index)
            : random_(thread_seed(params.seed, thread_index)),
              key_space_(2 * std::max<std::uint64_t>(params.scale.working_set, 1)),
              nodes_(sizeof(node)) {
            root_ = new_node();
            for (std::uint64_t k = 0; k < key_space_; ++k) {
                const std::uint64_t pick = random_.below(key_space_);  // random order, ~half present
                insert(key_of(pick), value_of(pick));
            }
        }

        worker(const worker&) = delete;
        worker& operator=(const worker&) = delete;
        ~worker() {
            if (root_ != nullptr) free_subtree(root_);
        }

        void operation(std::uint64_t index) {
            const std::uint64_t r = random_.next();
            const std::uint64_t key =
                key_of(static_cast<std::uint64_t>((static_cast<unsigned __int128>(r >> 2) * key_space_) >> 62));
            switch (r & 3) {
                case 0:
                    insert(key, value_of(index));
                    break;
                case 1:
                    digest_ = digest_fold(digest_, erase(key));
                    break;
                default:
                    digest_ = digest_fold(digest_, find(key));
                    break;
            }
        }

        std::uint64_t finish() {
            walk(root_);
            digest_ = digest_fold(digest_, size_);
            free_subtree(root_);
            root_ = nullptr;
            return digest_fold(digest_, nodes_.overlaps());
        }

        std::size_t live_bytes_peak() const { return nodes_.live_bytes_peak(); }
        std::size_t live_bytes() const { return nodes_.live_bytes(); }

    private:
        struct entry {
            std::uint64_t key;
            std::uint64_t value;
        };
        struct node;
        using entry_list = typename vector_of<S, entry, inline_entries>::type;
        using child_list = typename vector_of<S, node*, inline_entries + 1>::type;
        struct node {
            entry_list entries;
            child_list children;  // empty in a leaf
            bool leaf() const { return children.empty(); }
        };
        using node_blocks = std::conditional_t<uses_blocks<S>, S, support::global_new_blocks>;
        static constexpr std::uint64_t missing = 0x6D697373696E67ULL;

        static std::uint64_t key_of(std::uint64_t id) { return split_mix(id).next(); }
        static std::uint64_t value_of(std::uint64_t stamp) { return stamp * 0x9E3779B97F4A7C15ULL + 1; }

        node* new_node() { return ::new (nodes_.allocate(sizeof(node))) node(); }
        void delete_node(node* n) {
            n->~node();
            nodes_.deallocate(n, sizeof(node));
        }
        void free_subtree(node* n) {
            for (node* child : n->children) free_subtree(child);
            delete_node(n);
        }

        // First position whose key is >= key.
        static std::size_t lower_bound(const node& n, std::uint64_t key) {
            std::size_t i = 0;
            while (i < n.entries.size() && n.entries[i].key < key) ++i;
            return i;
        }

        std::uint64_t find(std::uint64_t key) const {
            const node* n = root_;
            for (;;) {
                const std::size_t i = lower_bound(*n, key);
                if (i < n->entries.size() && n->entries[i].key == key) return n->entries[i].value;
                if (n->leaf()) return missing;
                n = n->children[i];
            }
        }

        // Splits the full child at position i of parent: max_keys / 2 keys stay, the next rises,
        // the rest move to a new right sibling.
        void split_child(node& parent, std::size_t i) {
            node& left = *parent.children[i];
            node* right = new_node();
            const std::size_t mid = max_keys / 2;
            for (std::size_t k = mid + 1; k < left.entries.size(); ++k) right->entries.push_back(left.entries[k]);
            if (!left.leaf()) {
                for (std::size_t c = mid + 1; c < left.children.size(); ++c) {
                    right->children.push_back(left.children[c]);
                }
                left.children.erase(left.children.begin() + static_cast<std::ptrdiff_t>(mid + 1), left.children.end());
            }
            const entry rising = left.entries[mid];
            left.entries.erase(left.entries.begin() + static_cast<std::ptrdiff_t>(mid), left.entries.end());
            parent.entries.insert(parent.entries.begin() + static_cast<std::ptrdiff_t>(i), rising);
            parent.children.insert(parent.children.begin() + static_cast<std::ptrdiff_t>(i + 1), right);
        }

        void insert(std::uint64_t key, std::uint64_t value) {
            if (root_->entries.size() == max_keys) {
                node* old_root = root_;
                root_ = new_node();
                root_->children.push_back(old_root);
                split_child(*root_, 0);
            }
            node* n = root_;
            for (;;) {
                std::size_t i = lower_bound(*n, key);
                if (i < n->entries.size() && n->entries[i].key == key) {
                    n->entries[i].value = value;
                    return;
                }
                if (n->leaf()) {
                    n->entries.insert(n->entries.begin() + static_cast<std::ptrdiff_t>(i), entry{key, value});
                    ++size_;
                    return;
                }
                if (n->children[i]->entries.size() == max_keys) {
                    split_child(*n, i);
                    if (n->entries[i].key == key) {
                        n->entries[i].value = value;
                        return;
                    }
                    if (n->entries[i].key < key) ++i;
                }
                n = n->children[i];
            }
        }

        // Moves the separator i of parent and child i+1 into child i, then frees child i+1.
        void merge_children(node& parent, std::size_t i) {
            node& left = *parent.children[i];
            node* right = parent.children[i + 1];
            left.entries.push_back(parent.entries[i]);
            for (const entry& e : right->entries) left.entries.push_back(e);
            for (node* c : right->children) left.children.push_back(c);
            right->children.clear();
            parent.entries.erase(parent.entries.begin() + static_cast<std::ptrdiff_t>(i));
            parent.children.erase(parent.children.begin() + static_cast<std::ptrdiff_t>(i + 1));
            delete_node(right);
        }

        // Gives child i of parent more than min_keys keys (from a sibling, or by a merge); returns
        // the index of the child that now covers the same keys.
        std::size_t top_up(node& parent, std::size_t i) {
            node& child = *parent.children[i];
            if (i > 0 && parent.children[i - 1]->entries.size() > min_keys) {
                node& left = *parent.children[i - 1];
                child.entries.insert(child.entries.begin(), parent.entries[i - 1]);
                parent.entries[i - 1] = left.entries.back();
                left.entries.pop_back();
                if (!left.leaf()) {
                    child.children.insert(child.children.begin(), left.children.back());
                    left.children.pop_back();
                }
                return i;
            }
            if (i + 1 < parent.children.size() && parent.children[i + 1]->entries.size() > min_keys) {
                node& right = *parent.children[i + 1];
                child.entries.push_back(parent.entries[i]);
                parent.entries[i] = right.entries.front();
                right.entries.erase(right.entries.begin());
                if (!right.leaf()) {
                    child.children.push_back(right.children.front());
                    right.children.erase(right.children.begin());
                }
                return i;
            }
            if (i + 1 < parent.children.size()) {
                merge_children(parent, i);
                return i;
            }
            merge_children(parent, i - 1);
            return i - 1;
        }

        // Removes key; returns its value, or `missing`.
        std::uint64_t erase(std::uint64_t key) {
            std::uint64_t removed = missing;
            bool replaced = false;  // removed holds the asked key's value; a moved key is deleted below
            node* n = root_;
            for (;;) {
                std::size_t i = lower_bound(*n, key);
                const bool here = i < n->entries.size() && n->entries[i].key == key;
                if (n->leaf()) {
                    if (here) {
                        if (!replaced) removed = n->entries[i].value;
                        n->entries.erase(n->entries.begin() + static_cast<std::ptrdiff_t>(i));
                        --size_;
                    }
                    break;
                }
                if (here) {
                    if (n->children[i]->entries.size() > min_keys) {
                        // Replace by the predecessor, then delete that from the left subtree.
                        removed = n->entries[i].value;
                        replaced = true;
                        const entry pred = rightmost(n->children[i]);
                        n->entries[i] = pred;
                        key = pred.key;
                        n = n->children[i];
                        continue;
                    }
                    if (n->children[i + 1]->entries.size() > min_keys) {
                        removed = n->entries[i].value;
                        replaced = true;
                        const entry succ = leftmost(n->children[i + 1]);
                        n->entries[i] = succ;
                        key = succ.key;
                        n = n->children[i + 1];
                        continue;
                    }
                    merge_children(*n, i);  // the key moves down into the merged child
                } else if (n->children[i]->entries.size() <= min_keys) {
                    i = top_up(*n, i);
                }
                node* next = n->children[i];
                if (n == root_ && n->entries.empty()) {
                    root_ = next;
                    n->children.clear();
                    delete_node(n);
                }
                n = next;
            }
            return removed;
        }

        static entry rightmost(const node* n) {
            while (!n->leaf()) n = n->children.back();
            return n->entries.back();
        }
        static entry leftmost(const node* n) {
            while (!n->leaf()) n = n->children.front();
            return n->entries.front();
        }

        void walk(const node* n) {
            for (std::size_t i = 0; i < n->entries.size(); ++i) {
                if (!n->leaf()) walk(n->children[i]);
                digest_ = digest_fold(digest_, n->entries[i].key ^ n->entries[i].value);
            }
            if (!n->leaf()) walk(n->children.back());
        }

        split_mix random_;
        std::uint64_t key_space_;
        support::tagged_blocks<node_blocks> nodes_;
        node* root_ = nullptr;
        std::uint64_t size_ = 0;
        std::uint64_t digest_ = 0;
    };
};

struct btree : btree_core<8, 8> {
    static constexpr workload_traits traits{
        .name = "btree",
        .summary = "B-tree (8 keys, 9 children) insert/lookup/delete: nodes from blocks, entries in vectors",
        .quick_scale = {.ops_per_thread = 70'000, .working_set = 10'000, .warmup_ops = 7'000},
        .default_scale = {.ops_per_thread = 180'000, .working_set = 20'000, .warmup_ops = 18'000},
        .test_scale = {.ops_per_thread = 4'000, .working_set = 600, .warmup_ops = 400},
        .families = "blocks, vector",
        .claims = "A2-2 L3-9",
    };
};

}  // namespace allocproof::workloads

ALLOCPROOF_REGISTER_WORKLOAD(allocproof::workloads::btree)
