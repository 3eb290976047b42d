// Fused pair messages: the continuous-filter convolution of SchNet (schnetpack's CFConv:
// Σ_j x_j ⊙ W_ij · fcut(r_ij)) and the two ops its gradients need, each one pass over the pairs
// instead of a gather, a broadcast product, a product and a scatter, each of which wrote its own
// `[P, F]` tensor. The three ops are closed under differentiation (every gradient of one is one
// of the three), so gradients of gradients — forces in a training loss — stay fused.
//
// A pair p joins atoms (i, j) = (first[p], second[p]). Each op reads one side of the pair as the
// destination ("to") and the other as the source ("from"): `.forward` is to = i, from = j, the
// message direction of schnetpack's interactions; `.reversed` swaps them (the gradient of a
// forward convolution with respect to its source features is a reversed convolution).
import Kernels

/// Pairs of atoms grouped by either end, so a convolution sums each atom's pairs in a fixed
/// order (pair order) on any thread count.
public final class PairIndex: @unchecked Sendable {
    public enum Direction: Sendable {
        /// to = first (i), from = second (j).
        case forward
        /// to = second (j), from = first (i).
        case reversed

        var opposite: Direction { self == .forward ? .reversed : .forward }
    }

    public let first: [Int], second: [Int]
    public let atomCount: Int
    /// Per direction, the pairs sorted stably by destination and where each atom's run starts
    /// (`[atomCount + 1]`).
    private let forwardOrder: [Int], forwardStarts: [Int]
    private let reversedOrder: [Int], reversedStarts: [Int]

    /// `first` and `second` `[P]`, every index in `0..<atomCount`.
    public init(first: [Int], second: [Int], atomCount: Int) {
        precondition(first.count == second.count, "PairIndex: \(first.count) first and \(second.count) second indices")
        for (i, j) in zip(first, second) {
            precondition(i >= 0 && i < atomCount && j >= 0 && j < atomCount,
                         "PairIndex: pair (\(i), \(j)) is outside 0..<\(atomCount)")
        }
        (self.first, self.second, self.atomCount) = (first, second, atomCount)
        (forwardOrder, forwardStarts) = Self.grouped(by: first, atomCount)
        (reversedOrder, reversedStarts) = Self.grouped(by: second, atomCount)
    }

    /// From int64 index tensors `[P]`.
    public convenience init(first: Tensor, second: Tensor, atomCount: Int) {
        self.init(first: first.indexValues(extent: atomCount, "PairIndex"), second: second.indexValues(extent: atomCount, "PairIndex"),
                  atomCount: atomCount)
    }

    public var count: Int { first.count }

    /// A counting sort by destination (stable: pair order within an atom's run).
    private static func grouped(by destination: [Int], _ atoms: Int) -> ([Int], [Int]) {
        var starts = [Int](repeating: 0, count: atoms + 1)
        for atom in destination { starts[atom + 1] += 1 }
        for atom in 0..<atoms { starts[atom + 1] += starts[atom] }
        var next = starts, order = [Int](repeating: 0, count: destination.count)
        for (pair, atom) in destination.enumerated() {
            order[next[atom]] = pair
            next[atom] += 1
        }
        return (order, starts)
    }

    func ends(_ direction: Direction) -> (to: [Int], from: [Int]) {
        direction == .forward ? (first, second) : (second, first)
    }

    func groups(_ direction: Direction) -> (order: [Int], starts: [Int]) {
        direction == .forward ? (forwardOrder, forwardStarts) : (reversedOrder, reversedStarts)
    }
}

extension Tensor {
    /// The continuous-filter convolution: `out[to] = Σ_{pairs p into to} self[from_p] ⊙ filters[p] · scale[p]`.
    /// `self` `[N, F]` atom features, `filters` `[P, F]`, `scale` `[P]` (the cutoff function) →
    /// `[N, F]`; an atom without pairs gets zeros.
    public func pairConvolution(filters: Tensor, scale: Tensor, pairs: PairIndex, direction: PairIndex.Direction = .forward) -> Tensor {
        PairMessages.check("pairConvolution", atoms: [self], rows: [filters], scale: scale, pairs)
        let x = self
        let value = PairMessages.convolution(x, filters, scale, pairs, direction)
        return Tensor.recording(value, "pair-convolution", [x, filters, scale]) { grad in
            if !GradMode.isEnabled, filters.needsGradient, scale.needsGradient {
                // First order (forces): both pair gradients from one pass over the pairs.
                let (dFilters, dScale) = PairMessages.productAndContraction(grad, x, filters, scale, pairs, direction)
                return [x.needsGradient ? grad.pairConvolution(filters: filters, scale: scale, pairs: pairs, direction: direction.opposite) : nil,
                        dFilters, dScale]
            }
            return [x.needsGradient ? grad.pairConvolution(filters: filters, scale: scale, pairs: pairs, direction: direction.opposite) : nil,
             filters.needsGradient ? grad.pairProduct(x, scale: scale, pairs: pairs, direction: direction) : nil,
             scale.needsGradient ? grad.pairContraction(x, filters, pairs: pairs, direction: direction) : nil]
        }
    }

    /// Per pair, `self[to_p] ⊙ other[from_p] · scale[p]`: `self`, `other` `[N, F]`, `scale` `[P]` → `[P, F]`.
    public func pairProduct(_ other: Tensor, scale: Tensor, pairs: PairIndex, direction: PairIndex.Direction = .forward) -> Tensor {
        PairMessages.check("pairProduct", atoms: [self, other], rows: [], scale: scale, pairs)
        let u = self, h = other
        let value = PairMessages.product(u, h, scale, pairs, direction)
        return Tensor.recording(value, "pair-product", [u, h, scale]) { grad in
            [u.needsGradient ? h.pairConvolution(filters: grad, scale: scale, pairs: pairs, direction: direction) : nil,
             h.needsGradient ? u.pairConvolution(filters: grad, scale: scale, pairs: pairs, direction: direction.opposite) : nil,
             scale.needsGradient ? u.pairContraction(h, grad, pairs: pairs, direction: direction) : nil]
        }
    }

    /// Per pair, `Σ_f self[to_p, f] · other[from_p, f] · weights[p, f]`: `self`, `other` `[N, F]`,
    /// `weights` `[P, F]` → `[P]`.
    public func pairContraction(_ other: Tensor, _ weights: Tensor, pairs: PairIndex, direction: PairIndex.Direction = .forward) -> Tensor {
        PairMessages.check("pairContraction", atoms: [self, other], rows: [weights], scale: nil, pairs)
        let u = self, h = other
        let value = PairMessages.contraction(u, h, weights, pairs, direction)
        return Tensor.recording(value, "pair-contraction", [u, h, weights]) { grad in
            [u.needsGradient ? h.pairConvolution(filters: weights, scale: grad, pairs: pairs, direction: direction) : nil,
             h.needsGradient ? u.pairConvolution(filters: weights, scale: grad, pairs: pairs, direction: direction.opposite) : nil,
             weights.needsGradient ? u.pairProduct(h, scale: grad, pairs: pairs, direction: direction) : nil]
        }
    }
}

/// The kernels: rows of F contiguous values, Float or Double, in parallel over atoms or pairs.
enum PairMessages {
    /// Multiply-adds below which a second thread costs more to wake than it saves.
    static let grain = 1 << 15

    /// Traps naming the op unless `atoms` are `[N, F]`, `rows` `[P, F]`, `scale` `[P]`, all one float dtype.
    static func check(_ op: String, atoms: [Tensor], rows: [Tensor], scale: Tensor?, _ pairs: PairIndex) {
        let width = atoms[0].rank == 2 ? atoms[0].shape[1] : -1
        for x in atoms {
            precondition(x.shape == [pairs.atomCount, width], "\(op): atom features \(x.shape) must be [\(pairs.atomCount), F]")
        }
        for w in rows { precondition(w.shape == [pairs.count, width], "\(op): pair rows \(w.shape) must be [\(pairs.count), \(width)]") }
        if let scale { precondition(scale.shape == [pairs.count], "\(op): per-pair scale \(scale.shape) must be [\(pairs.count)]") }
        for tensor in atoms + rows + (scale.map { [$0] } ?? []) {
            precondition(tensor.dtype == atoms[0].dtype && tensor.dtype.isFloatingPoint,
                         "\(op): needs float32 or float64 operands of one dtype, got \(tensor.dtype) and \(atoms[0].dtype)")
        }
    }

    /// out[a] = Σ_{q in a's run} x[from[p]] ⊙ w[p] · s[p], p = order[q].
    static func convolution(_ x: Tensor, _ w: Tensor, _ s: Tensor, _ pairs: PairIndex, _ direction: PairIndex.Direction) -> Tensor {
        let width = x.shape[1], atoms = pairs.atomCount
        let out = Tensor(uninitializedShape: [atoms, width], dtype: x.dtype, zeroed: false)
        let (x, w, s) = (x.contiguousStorageView(), w.contiguousStorageView(), s.contiguousStorageView())
        let from = pairs.ends(direction).from, (order, starts) = pairs.groups(direction)
        func run<T: TensorFloat>(_: T.Type) {
            let pointers = UncheckedSendable((x.storage.pointer(as: T.self) + x.offset, w.storage.pointer(as: T.self) + w.offset,
                                              s.storage.pointer(as: T.self) + s.offset, out.storage.pointer(as: T.self)))
            let perAtom = Swift.max(1, pairs.count / Swift.max(1, atoms))
            parallelFor(atoms, minChunk: Swift.max(1, PairMessages.grain / Swift.max(1, perAtom * width))) { range in
                let (px, pw, ps, po) = pointers.value
                for atom in range {
                    let row = po + atom * width
                    row.initialize(repeating: 0, count: width)
                    for q in starts[atom]..<starts[atom + 1] {
                        let p = order[q], scale = ps[p]
                        let source = px + from[p] * width, filter = pw + p * width
                        for f in 0..<width { row[f] += source[f] * filter[f] * scale }
                    }
                }
            }
        }
        if x.dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return out
    }

    /// out[p] = u[to[p]] ⊙ h[from[p]] · s[p].
    static func product(_ u: Tensor, _ h: Tensor, _ s: Tensor, _ pairs: PairIndex, _ direction: PairIndex.Direction) -> Tensor {
        perPair(u, h, scale: s, weights: nil, pairs, direction).product!
    }

    /// out[p] = Σ_f u[to[p], f] · h[from[p], f] · w[p, f].
    static func contraction(_ u: Tensor, _ h: Tensor, _ w: Tensor, _ pairs: PairIndex, _ direction: PairIndex.Direction) -> Tensor {
        perPair(u, h, scale: nil, weights: w, pairs, direction).contraction!
    }

    /// The pairProduct (u[to] ⊙ h[from] · s) and pairContraction (Σ u[to] ⊙ h[from] ⊙ w) of the
    /// same operands in one pass: a convolution's first-order gradients for its filters and scale.
    static func productAndContraction(_ u: Tensor, _ h: Tensor, _ w: Tensor, _ s: Tensor, _ pairs: PairIndex,
                                      _ direction: PairIndex.Direction) -> (Tensor, Tensor) {
        let both = perPair(u, h, scale: s, weights: w, pairs, direction)
        return (both.product!, both.contraction!)
    }

    /// One pass over the pairs reading u[to[p]] and h[from[p]]: with `scale`, the product rows
    /// u ⊙ h · s[p] `[P, F]`; with `weights`, the contractions Σ_f u ⊙ h ⊙ w[p] `[P]`.
    private static func perPair(_ u: Tensor, _ h: Tensor, scale s: Tensor?, weights w: Tensor?, _ pairs: PairIndex,
                                _ direction: PairIndex.Direction) -> (product: Tensor?, contraction: Tensor?) {
        let width = u.shape[1]
        let product = s.map { _ in Tensor(uninitializedShape: [pairs.count, width], dtype: u.dtype, zeroed: false) }
        let contraction = w.map { _ in Tensor(uninitializedShape: [pairs.count], dtype: u.dtype, zeroed: false) }
        let (u, h) = (u.contiguousStorageView(), h.contiguousStorageView())
        let (s, w) = (s?.contiguousStorageView(), w?.contiguousStorageView())
        let (to, from) = pairs.ends(direction)
        func run<T: TensorFloat>(_: T.Type) {
            func address(_ t: Tensor?) -> UnsafeMutablePointer<T>? { t.map { $0.storage.pointer(as: T.self) + $0.offset } }
            let inputs = UncheckedSendable((address(u)!, address(h)!, address(w), address(s)))
            let outputs = UncheckedSendable((address(product), address(contraction)))
            parallelFor(pairs.count, minChunk: Swift.max(1, grain / Swift.max(1, width))) { range in
                let (pu, ph, pw, ps) = inputs.value, (pp, pc) = outputs.value
                for p in range {
                    let a = pu + to[p] * width, b = ph + from[p] * width
                    if let pp, let ps {
                        let row = pp + p * width, scale = ps[p]
                        for f in 0..<width { row[f] = a[f] * b[f] * scale }
                    }
                    if let pc, let pw { pc[p] = tripleDot(a, b, pw + p * width, width) }
                }
            }
        }
        if u.dtype == .float32 { run(Float.self) } else { run(Double.self) }
        return (product, contraction)
    }
}

/// Σ_f a[f]·b[f]·c[f] in four interleaved partial sums (vectorisable, and the same order on every
/// thread count).
@inline(__always)
private func tripleDot<T: TensorFloat>(_ a: UnsafeMutablePointer<T>, _ b: UnsafeMutablePointer<T>, _ c: UnsafeMutablePointer<T>,
                                       _ width: Int) -> T {
    var (s0, s1, s2, s3): (T, T, T, T) = (0, 0, 0, 0)
    var f = 0
    while f + 4 <= width {
        s0 += a[f] * b[f] * c[f]
        s1 += a[f + 1] * b[f + 1] * c[f + 1]
        s2 += a[f + 2] * b[f + 2] * c[f + 2]
        s3 += a[f + 3] * b[f + 3] * c[f + 3]
        f += 4
    }
    while f < width {
        s0 += a[f] * b[f] * c[f]
        f += 1
    }
    return (s0 + s1) + (s2 + s3)
}
