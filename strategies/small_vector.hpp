// allocproof::small_vector<T, N, Allocator> — a vector that keeps its first N elements inside
// itself and spills to Allocator only when it outgrows them.
//
// Models seed 003 (Lightning DB): "Replaced Vec<KeyEntry> with SmallVec<[KeyEntry; 8]> in
// BTreeNode entries ... Eliminates heap allocations for small collections (most B-tree nodes have
// <8 entries)". Claim L3-1 is about allocator calls, so the one promise that matters is the first
// one below; the rest is the subset of std::vector a workload needs, with its semantics.
//
// Contract:
//   * no call into Allocator while size() <= N, ever (reserve(n <= N) included);
//   * past N, storage comes from Allocator (std::allocator: global operator new) and grows by
//     doubling; it never moves back inline (clear() keeps the capacity, as std::vector does);
//   * elements are constructed and destroyed in place (std::construct_at / std::destroy_at);
//     the allocator provides raw memory only, so scoped allocators are not supported;
//   * iterators are T*; any operation that reallocates invalidates them, and so does moving the
//     vector while its elements are inline (they move with it) — unlike std::vector;
//   * exception safety: growth is strong (elements are moved only if their move cannot throw,
//     otherwise copied); insert/erase in place and resize are basic;
//   * a moved-from small_vector is empty.
//
// Measurement traps: sizeof(small_vector) is 3 words + N * sizeof(T), so a "small" vector of
// large T inflates whatever holds it (a B-tree node with 8 inline entries of 24 bytes carries
// 192 bytes even when empty); and the elements move with the vector, so moving one costs O(size)
// while inline, where std::vector's move is three pointer copies.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace allocproof {

template <class T, std::size_t N, class Allocator = std::allocator<T>>
class small_vector {
    using alloc_traits = std::allocator_traits<Allocator>;
    static_assert(std::is_same_v<typename alloc_traits::value_type, T>, "Allocator::value_type must be T");
    static_assert(std::is_same_v<typename alloc_traits::pointer, T*>, "fancy pointers are not supported");

public:
    using value_type = T;
    using allocator_type = Allocator;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;
    using reference = T&;
    using const_reference = const T&;
    using pointer = T*;
    using const_pointer = const T*;
    using iterator = T*;
    using const_iterator = const T*;
    using reverse_iterator = std::reverse_iterator<iterator>;
    using const_reverse_iterator = std::reverse_iterator<const_iterator>;

    static constexpr size_type inline_capacity = N;

    // ---- construction, assignment, destruction ----------------------------------------------

    small_vector() noexcept(noexcept(Allocator())) : small_vector(Allocator()) {}
    explicit small_vector(const Allocator& allocator) noexcept : allocator_(allocator) {}

    small_vector(std::initializer_list<T> values, const Allocator& allocator = Allocator()) : allocator_(allocator) {
        assign_range(values.begin(), values.end());
    }

    small_vector(const small_vector& other)
        : allocator_(alloc_traits::select_on_container_copy_construction(other.allocator_)) {
        assign_range(other.begin(), other.end());
    }

    small_vector(small_vector&& other) noexcept(std::is_nothrow_move_constructible_v<T>)
        : allocator_(std::move(other.allocator_)) {
        take_elements_of(other);
    }

    small_vector& operator=(const small_vector& other) {
        if (this == &other) return *this;
        if constexpr (alloc_traits::propagate_on_container_copy_assignment::value) {
            if (allocator_ != other.allocator_) release_everything();
            allocator_ = other.allocator_;
        }
        assign_range(other.begin(), other.end());
        return *this;
    }

    small_vector& operator=(small_vector&& other) noexcept(
        std::is_nothrow_move_constructible_v<T>&& std::is_nothrow_move_assignable_v<T> &&
        (alloc_traits::propagate_on_container_move_assignment::value || alloc_traits::is_always_equal::value)) {
        if (this == &other) return *this;
        if constexpr (alloc_traits::propagate_on_container_move_assignment::value) {
            if (allocator_ != other.allocator_) release_everything();
            allocator_ = other.allocator_;
        }
        if (other.on_heap() && allocator_ == other.allocator_) {
            // The spilled buffer can change hands: no element moves.
            release_everything();
            take_elements_of(other);
        } else {
            assign_range(std::make_move_iterator(other.begin()), std::make_move_iterator(other.end()));
            other.clear();
        }
        return *this;
    }

    small_vector& operator=(std::initializer_list<T> values) {
        assign_range(values.begin(), values.end());
        return *this;
    }

    ~small_vector() {
        clear();
        free_heap();
    }

    // ---- access ------------------------------------------------------------------------------

    reference operator[](size_type i) noexcept { return data_[i]; }
    const_reference operator[](size_type i) const noexcept { return data_[i]; }
    reference at(size_type i) {
        if (i >= size_) throw std::out_of_range("small_vector::at");
        return data_[i];
    }
    const_reference at(size_type i) const { return const_cast<small_vector&>(*this).at(i); }
    reference front() noexcept { return data_[0]; }
    const_reference front() const noexcept { return data_[0]; }
    reference back() noexcept { return data_[size_ - 1]; }
    const_reference back() const noexcept { return data_[size_ - 1]; }
    T* data() noexcept { return data_; }
    const T* data() const noexcept { return data_; }

    iterator begin() noexcept { return data_; }
    iterator end() noexcept { return data_ + size_; }
    const_iterator begin() const noexcept { return data_; }
    const_iterator end() const noexcept { return data_ + size_; }
    const_iterator cbegin() const noexcept { return data_; }
    const_iterator cend() const noexcept { return data_ + size_; }
    reverse_iterator rbegin() noexcept { return reverse_iterator(end()); }
    reverse_iterator rend() noexcept { return reverse_iterator(begin()); }
    const_reverse_iterator rbegin() const noexcept { return const_reverse_iterator(end()); }
    const_reverse_iterator rend() const noexcept { return const_reverse_iterator(begin()); }

    bool empty() const noexcept { return size_ == 0; }
    size_type size() const noexcept { return size_; }
    size_type capacity() const noexcept { return capacity_; }
    size_type max_size() const noexcept {
        return std::min<size_type>(alloc_traits::max_size(allocator_),
                                   std::numeric_limits<difference_type>::max() / sizeof(T));
    }
    // True while the elements live inside the object (no allocation held).
    bool is_inline() const noexcept { return !on_heap(); }
    allocator_type get_allocator() const noexcept { return allocator_; }

    // ---- modifiers: the fast paths ----------------------------------------------------------

    void push_back(const T& value) { emplace_back(value); }
    void push_back(T&& value) { emplace_back(std::move(value)); }

    template <class... Args>
    reference emplace_back(Args&&... args) {
        // The size is kept in a local: a store of a T may alias size_ (T = std::size_t), and
        // ++size_ after it would reload the member.
        const size_type n = size_;
        if (n != capacity_) [[likely]] {
            T* slot = std::construct_at(data_ + n, std::forward<Args>(args)...);
            size_ = n + 1;
            return *slot;
        }
        return *grow_and_emplace(n, std::forward<Args>(args)...);
    }

    void pop_back() noexcept { std::destroy_at(data_ + --size_); }

    void clear() noexcept {
        std::destroy(data_, data_ + size_);
        size_ = 0;
    }

    // ---- modifiers: the rest ----------------------------------------------------------------

    void reserve(size_type wanted) {
        if (wanted > capacity_) reallocate(checked(wanted));
    }

    void resize(size_type wanted) {
        if (wanted <= size_) return truncate(wanted);
        if (wanted > capacity_) reallocate(next_capacity(wanted));
        while (size_ < wanted) {
            std::construct_at(data_ + size_);
            ++size_;
        }
    }

    void resize(size_type wanted, const T& value) {
        if (wanted <= size_) return truncate(wanted);
        if (wanted > capacity_) {
            // `value` may be one of our elements: find it again after the move.
            const bool ours = owns(&value);
            const size_type index = ours ? static_cast<size_type>(&value - data_) : 0;
            reallocate(next_capacity(wanted));
            const T& source = ours ? data_[index] : value;
            fill_to(wanted, source);
        } else {
            fill_to(wanted, value);
        }
    }

    iterator insert(const_iterator position, const T& value) { return emplace(position, value); }
    iterator insert(const_iterator position, T&& value) { return emplace(position, std::move(value)); }

    template <class... Args>
    iterator emplace(const_iterator position, Args&&... args) {
        const size_type index = static_cast<size_type>(position - data_);
        if (index == size_) return &emplace_back(std::forward<Args>(args)...);
        if (size_ == capacity_) return grow_and_emplace(index, std::forward<Args>(args)...);
        // Built first: the arguments may refer to an element that is about to move.
        T value(std::forward<Args>(args)...);
        std::construct_at(data_ + size_, std::move(data_[size_ - 1]));
        ++size_;
        std::move_backward(data_ + index, data_ + size_ - 2, data_ + size_ - 1);
        data_[index] = std::move(value);
        return data_ + index;
    }

    iterator erase(const_iterator position) {
        T* at = data_ + (position - data_);
        std::move(at + 1, data_ + size_, at);
        pop_back();
        return at;
    }

    iterator erase(const_iterator first, const_iterator last) {
        T* from = data_ + (first - data_);
        T* to = data_ + (last - data_);
        if (from != to) truncate(static_cast<size_type>(std::move(to, data_ + size_, from) - data_));
        return from;
    }

    friend bool operator==(const small_vector& a, const small_vector& b) {
        return std::equal(a.begin(), a.end(), b.begin(), b.end());
    }

private:
    T* inline_data() noexcept { return reinterpret_cast<T*>(inline_storage_); }
    bool on_heap() const noexcept { return data_ != reinterpret_cast<const T*>(inline_storage_); }
    bool owns(const T* p) const noexcept { return std::less_equal<>{}(data_, p) && std::less<>{}(p, data_ + size_); }

    size_type checked(size_type wanted) const {
        if (wanted > max_size()) throw std::length_error("small_vector: too many elements");
        return wanted;
    }
    size_type next_capacity(size_type at_least) const {
        const size_type limit = max_size();
        if (at_least > limit) throw std::length_error("small_vector: too many elements");
        const size_type doubled = capacity_ > limit / 2 ? limit : 2 * capacity_;
        return std::max(doubled, at_least);
    }

    // Moves n elements from `from` into uninitialised `to`; if that throws, what was built in
    // `to` is destroyed and `from` is untouched (a throwing move is never used: it is a copy).
    static void relocate(T* from, size_type n, T* to) {
        if constexpr (std::is_trivially_copyable_v<T>) {
            if (n != 0) std::memcpy(static_cast<void*>(to), from, n * sizeof(T));
        } else {
            size_type built = 0;
            try {
                for (; built < n; ++built) std::construct_at(to + built, std::move_if_noexcept(from[built]));
            } catch (...) {
                std::destroy(to, to + built);
                throw;
            }
        }
    }

    // The slow path of every growth: a new buffer of `new_capacity`, the old elements moved in.
    void reallocate(size_type new_capacity) {
        T* fresh = alloc_traits::allocate(allocator_, new_capacity);
        try {
            relocate(data_, size_, fresh);
        } catch (...) {
            alloc_traits::deallocate(allocator_, fresh, new_capacity);
            throw;
        }
        adopt(fresh, new_capacity);
    }

    // Grows, building the new element at `index` of the new buffer before the old elements move,
    // so that arguments referring to an old element still see it.
    template <class... Args>
    [[gnu::noinline]] T* grow_and_emplace(size_type index, Args&&... args) {
        const size_type new_capacity = next_capacity(size_ + 1);
        T* fresh = alloc_traits::allocate(allocator_, new_capacity);
        T* slot = fresh + index;
        try {
            std::construct_at(slot, std::forward<Args>(args)...);
        } catch (...) {
            alloc_traits::deallocate(allocator_, fresh, new_capacity);
            throw;
        }
        try {
            relocate(data_, index, fresh);
            try {
                relocate(data_ + index, size_ - index, slot + 1);
            } catch (...) {
                std::destroy(fresh, slot);
                throw;
            }
        } catch (...) {
            std::destroy_at(slot);
            alloc_traits::deallocate(allocator_, fresh, new_capacity);
            throw;
        }
        adopt(fresh, new_capacity);
        ++size_;
        return slot;
    }

    // The elements were moved into `fresh`: destroy the originals and switch buffers.
    void adopt(T* fresh, size_type new_capacity) noexcept {
        if constexpr (!std::is_trivially_copyable_v<T>) std::destroy(data_, data_ + size_);
        free_heap();
        data_ = fresh;
        capacity_ = new_capacity;
    }

    void free_heap() noexcept {
        if (on_heap()) alloc_traits::deallocate(allocator_, data_, capacity_);
    }

    // Back to the state of a new, empty vector.
    void release_everything() noexcept {
        clear();
        free_heap();
        data_ = inline_data();
        capacity_ = N;
    }

    void truncate(size_type n) noexcept {
        std::destroy(data_ + n, data_ + size_);
        size_ = n;
    }

    void fill_to(size_type n, const T& value) {
        while (size_ < n) {
            std::construct_at(data_ + size_, value);
            ++size_;
        }
    }

    // Into an empty *this with an allocator equal to other's: the spilled buffer changes hands,
    // inline elements are moved one by one. `other` is left empty and inline.
    void take_elements_of(small_vector& other) {
        if (other.on_heap()) {
            data_ = other.data_;
            size_ = other.size_;
            capacity_ = other.capacity_;
            other.data_ = other.inline_data();
            other.capacity_ = N;
        } else {
            relocate(other.data_, other.size_, data_);  // N >= other.size_: fits inline
            size_ = other.size_;
            other.clear();
        }
        other.size_ = 0;
    }

    template <class Iterator>
    void assign_range(Iterator first, Iterator last) {
        const auto n = static_cast<size_type>(std::distance(first, last));
        if (n > capacity_) {
            // Build the copy first, then drop the old elements: strong guarantee.
            const size_type new_capacity = checked(n);
            T* fresh = alloc_traits::allocate(allocator_, new_capacity);
            try {
                std::uninitialized_copy(first, last, fresh);
            } catch (...) {
                alloc_traits::deallocate(allocator_, fresh, new_capacity);
                throw;
            }
            clear();
            adopt(fresh, new_capacity);
            size_ = n;
            return;
        }
        const size_type common = std::min(n, size_);
        Iterator middle = std::next(first, static_cast<difference_type>(common));
        std::copy(first, middle, data_);
        if (n <= size_) return truncate(n);
        for (; middle != last; ++middle) {
            std::construct_at(data_ + size_, *middle);
            ++size_;
        }
    }

    T* data_ = inline_data();
    size_type size_ = 0;
    size_type capacity_ = N;
    alignas(T) std::byte inline_storage_[N == 0 ? 1 : N * sizeof(T)];
    [[no_unique_address]] Allocator allocator_;
};

}  // namespace allocproof
