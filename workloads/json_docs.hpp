// json_docs — JSON-like documents (objects, arrays, short strings, numbers; a few dozen to a few
// hundred nodes) built, serialised and torn down, one document per operation.
//
// Models: a DOM-style JSON parser or builder as a request handler uses it (RapidJSON's Document,
// a database's JSON column decoded per row): every value is a node, object members and array
// elements live in arrays that grow by doubling as values are appended, keys and strings are
// copied into the document. The document lives for one request: it is serialised (the digest
// reads every node, key and string back) and then dropped. Strategies that free individually free
// it node by node, as a destructor walk does; arenas (arena, arena_pool, pmr_monotonic) are reset
// once per document, which is what the seeds' per-operation arenas promise (claim A2-9).
// Does not model: parsing text (the generator decides the shape), escapes and Unicode, floating
// point numbers, or documents that outlive the request.
//
// Every byte of a document's blocks is read before they go: serialising reads every node, key
// and string; a node's padding and an array's slots past its count are zeroed when taken and
// read back as zero then (the links, addresses, are followed rather than folded).
// Block sizes vary (24 B nodes, strings of 7-44 B, member and element arrays of 16-512 B): a
// fixed-size strategy gets one instance per size class (workloads/support/tagged_blocks.hpp),
// every other strategy one instance.
#pragma once

#include "allocproof/registry.hpp"
#include "allocproof/strategy.hpp"
#include "allocproof/workload.hpp"
#include "workloads/support/hash_bytes.hpp"
#include "workloads/support/tagged_blocks.hpp"
#include "workloads/support/text_block.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace allocproof::workloads {

struct json_docs {
    static constexpr workload_traits traits{
        .name = "json_docs",
        .summary = "JSON-like documents (30-300 nodes) built, serialised and torn down per operation",
        .quick_scale = {.ops_per_thread = 700, .working_set = 300, .warmup_ops = 70},
        .default_scale = {.ops_per_thread = 1'800, .working_set = 300, .warmup_ops = 180},
        .test_scale = {.ops_per_thread = 50, .working_set = 300, .warmup_ops = 5},
        .families = "blocks",
        .claims = "A2-9",
    };

    static constexpr std::size_t largest_block = 512;  // 32 members x 16 B

    template <class S>
    static constexpr bool accepts =
        support::serves_tagged_blocks<S> && !S::traits.may_refuse && (S::traits.frees_individually || resettable<S>);

    template <class S>
    class worker {
    public:
        worker(const workload_params& params, unsigned thread_index)
            : random_(thread_seed(params.seed, thread_index)),
              max_nodes_(std::max<std::uint64_t>(params.scale.working_set, 10)),
              blocks_(largest_block) {
            out_.reserve(64 * max_nodes_);
        }

        worker(const worker&) = delete;
        worker& operator=(const worker&) = delete;

        void operation(std::uint64_t /*index*/) {
            std::uint64_t budget = max_nodes_ / 10 + random_.below(max_nodes_ - max_nodes_ / 10 + 1);
            node* root = make_container(kind::object, 0, budget);
            out_.clear();
            unused_ = 0;
            serialise(*root);
            digest_ = digest_fold(digest_, unused_);
            digest_ = digest_fold(digest_, support::hash_bytes(out_.data(), out_.size()));
            digest_ = digest_fold(digest_, out_.size());
            if constexpr (S::traits.frees_individually) {
                destroy(root);
            } else {
                blocks_.release_all();
            }
        }

        std::uint64_t finish() { return digest_fold(digest_, blocks_.overlaps()); }

        std::size_t live_bytes_peak() const { return blocks_.live_bytes_peak(); }
        std::size_t live_bytes() const { return blocks_.live_bytes(); }

    private:
        enum class kind : std::uint8_t { null, boolean, number, string, array, object };
        using text = support::text_block;
        struct node;
        struct member {
            text* key;
            node* value;
        };
        struct node {
            kind type;
            bool flag;
            std::uint32_t count;     // members or elements
            std::uint32_t capacity;  // of the members / elements array
            union {
                std::int64_t number;
                text* string;
                node** elements;
                member* members;
            };
        };

        static constexpr std::array<std::string_view, 16> key_names{
            "id",    "name",  "type",    "created_at", "updated_at", "status", "price",  "tags",
            "owner", "items", "payload", "version",    "enabled",    "score",  "region", "labels"};
        static constexpr unsigned max_depth = 4;
        static constexpr std::uint32_t max_children = 24;

        node* new_node(kind type) {
            node* n = static_cast<node*>(blocks_.allocate(sizeof(node)));
            std::memset(static_cast<void*>(n), 0, sizeof(node));  // the padding too: it is read back
            n->type = type;
            return n;
        }

        text* random_text() {
            const std::size_t size = 3 + random_.below(38);
            text* t = text::make(blocks_, size);
            std::uint64_t bits = random_.next();
            for (std::size_t i = 0; i < size; ++i, bits = bits * 0x5851F42D4C957F2DULL + 1) {
                t->bytes()[i] = static_cast<char>('a' + (bits >> 59) % 26);
            }
            return t;
        }

        text* key_text() {
            const std::uint64_t r = random_.next();
            std::string_view name = key_names[r % key_names.size()];
            char suffix[4];
            std::size_t suffix_size = 0;
            if ((r >> 8) % 4 == 0) {  // some keys carry an index: "tags_17"
                suffix[0] = '_';
                suffix_size = 1 + static_cast<std::size_t>(std::to_chars(suffix + 1, suffix + 4, (r >> 16) % 100).ptr -
                                                           (suffix + 1));
            }
            text* t = text::make(blocks_, name.size() + suffix_size);
            std::memcpy(t->bytes(), name.data(), name.size());
            std::memcpy(t->bytes() + name.size(), suffix, suffix_size);
            return t;
        }

        // Appends to a container's array, doubling it as a growing DOM array does.
        template <class T>
        T* grow(T* array, std::uint32_t& count, std::uint32_t& capacity) {
            if (count < capacity) return array;
            const std::uint32_t wider = capacity == 0 ? 2 : 2 * capacity;
            T* fresh = static_cast<T*>(blocks_.allocate(wider * sizeof(T)));
            std::memset(static_cast<void*>(fresh + count), 0, (wider - count) * sizeof(T));
            if (count > 0) {
                std::memcpy(static_cast<void*>(fresh), array, count * sizeof(T));
                blocks_.deallocate(array, capacity * sizeof(T));
            }
            capacity = wider;
            return fresh;
        }

        node* make_value(unsigned depth, std::uint64_t& budget) {
            const std::uint64_t r = random_.below(100);
            if (depth < max_depth && budget > 4 && r < 22) {
                return make_container(r < 12 ? kind::object : kind::array, depth + 1, budget);
            }
            if (r < 60) {
                node* n = new_node(kind::number);
                n->number = static_cast<std::int64_t>(random_.next() >> (random_.below(56) + 8)) - 1000;
                return n;
            }
            if (r < 88) {
                node* n = new_node(kind::string);
                n->string = random_text();
                return n;
            }
            node* n = new_node(r < 95 ? kind::boolean : kind::null);
            n->flag = (r & 1) != 0;
            return n;
        }

        node* make_container(kind type, unsigned depth, std::uint64_t& budget) {
            node* n = new_node(type);
            if (type == kind::object) {
                n->members = nullptr;
            } else {
                n->elements = nullptr;
            }
            if (budget > 0) --budget;
            const std::uint64_t children = 1 + random_.below(std::min<std::uint64_t>(max_children, budget + 1));
            for (std::uint64_t c = 0; c < children && budget > 0; ++c) {
                --budget;
                if (type == kind::object) {
                    text* key = key_text();
                    node* value = make_value(depth, budget);
                    n->members = grow(n->members, n->count, n->capacity);
                    n->members[n->count++] = member{key, value};
                } else {
                    node* value = make_value(depth, budget);
                    n->elements = grow(n->elements, n->count, n->capacity);
                    n->elements[n->count++] = value;
                }
            }
            return n;
        }

        void quote(const text& t) {
            out_.push_back('"');
            out_.append(t.view());
            out_.push_back('"');
        }

        // The bytes of a node that serialising does not read: its header's padding, and the slots
        // of its array past the count. Zero on every strategy unless something else wrote there.
        template <class T>
        static std::uint64_t unused_bytes(const node& n, const T* array) {
            std::uint64_t header[2];
            std::memcpy(header, &n, sizeof header);
            static_assert(std::endian::native == std::endian::little && offsetof(node, count) == 4 &&
                          offsetof(node, capacity) == 8 && sizeof(node) == 24);
            std::uint64_t seen = header[0] & 0x00000000FFFF0000ULL;  // between flag and count
            seen |= header[1] & 0xFFFFFFFF00000000ULL;               // after capacity
            const auto* tail = reinterpret_cast<const std::byte*>(array + n.count);
            const std::size_t tail_bytes = (n.capacity - n.count) * sizeof(T);
            for (std::size_t i = 0; i < tail_bytes; ++i) seen |= static_cast<std::uint64_t>(tail[i]);
            return seen;
        }

        void serialise(const node& n) {
            if (n.type == kind::array) {
                unused_ |= unused_bytes(n, n.elements);
            } else if (n.type == kind::object) {
                unused_ |= unused_bytes(n, n.members);
            } else {
                unused_ |= unused_bytes(n, static_cast<const std::byte*>(nullptr));
            }
            switch (n.type) {
                case kind::null:
                    out_.append("null");
                    break;
                case kind::boolean:
                    out_.append(n.flag ? "true" : "false");
                    break;
                case kind::number: {
                    char digits[24];
                    out_.append(digits, std::to_chars(digits, digits + sizeof digits, n.number).ptr);
                    break;
                }
                case kind::string:
                    quote(*n.string);
                    break;
                case kind::array:
                    out_.push_back('[');
                    for (std::uint32_t i = 0; i < n.count; ++i) {
                        if (i > 0) out_.push_back(',');
                        serialise(*n.elements[i]);
                    }
                    out_.push_back(']');
                    break;
                case kind::object:
                    out_.push_back('{');
                    for (std::uint32_t i = 0; i < n.count; ++i) {
                        if (i > 0) out_.push_back(',');
                        quote(*n.members[i].key);
                        out_.push_back(':');
                        serialise(*n.members[i].value);
                    }
                    out_.push_back('}');
                    break;
            }
        }

        void destroy(node* n) {
            switch (n->type) {
                case kind::string:
                    text::release(blocks_, n->string);
                    break;
                case kind::array:
                    for (std::uint32_t i = 0; i < n->count; ++i) destroy(n->elements[i]);
                    if (n->capacity > 0) blocks_.deallocate(n->elements, n->capacity * sizeof(node*));
                    break;
                case kind::object:
                    for (std::uint32_t i = 0; i < n->count; ++i) {
                        text::release(blocks_, n->members[i].key);
                        destroy(n->members[i].value);
                    }
                    if (n->capacity > 0) blocks_.deallocate(n->members, n->capacity * sizeof(member));
                    break;
                default:
                    break;
            }
            blocks_.deallocate(n, sizeof(node));
        }

        split_mix random_;
        std::uint64_t max_nodes_;
        support::tagged_blocks<S> blocks_;
        std::string out_;           // the serialised document, its capacity reused
        std::uint64_t unused_ = 0;  // bytes that should have stayed zero, OR-ed: zero when they did
        std::uint64_t digest_ = 0;
    };
};

}  // namespace allocproof::workloads

ALLOCPROOF_REGISTER_WORKLOAD(allocproof::workloads::json_docs)
