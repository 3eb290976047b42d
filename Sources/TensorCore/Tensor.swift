// `Tensor`: a strided view of one storage buffer, with an optional autograd node.

/// Element types a tensor can be built from and read into.
public protocol TensorElement: Sendable {
    static var tensorDType: DType { get }
}
extension Float: TensorElement { public static var tensorDType: DType { .float32 } }
extension Double: TensorElement { public static var tensorDType: DType { .float64 } }
extension Int32: TensorElement { public static var tensorDType: DType { .int32 } }
extension Int64: TensorElement { public static var tensorDType: DType { .int64 } }
extension Bool: TensorElement { public static var tensorDType: DType { .bool } }

/// An n-dimensional array of float32, float64, int32, int64 or bool elements.
///
/// A tensor is a value: views (`reshaped`, `permuted`, `sliced`, `expanded` …) share storage,
/// and writing through `update` copies the storage first if anything else shares it
/// (copy-on-write). Floating-point tensors take part in reverse-mode autograd when they
/// require gradients; see `requiringGrad()`, `backward()` and `grad(of:wrt:)`.
public struct Tensor: @unchecked Sendable {
    public private(set) var storage: TensorStorage
    /// Extents, outermost first. A scalar has shape `[]`.
    public let shape: [Int]
    /// Element strides of each axis (0 on broadcast axes).
    public let strides: [Int]
    /// Element offset of the first element in `storage`.
    public let offset: Int
    /// The autograd node: nil for constants, a leaf for tensors that require gradients,
    /// or the operation that produced this tensor.
    var node: GradNode?

    public var dtype: DType { storage.dtype }
    public var rank: Int { shape.count }
    public var count: Int { shape.reduce(1, *) }
    public var requiresGrad: Bool { node != nil }

    init(storage: TensorStorage, shape: [Int], strides: [Int], offset: Int = 0) {
        self.storage = storage
        self.shape = shape
        self.strides = strides
        self.offset = offset
    }

    /// A new contiguous tensor of zeros.
    init(uninitializedShape shape: [Int], dtype: DType, zeroed: Bool = true) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in shape \(shape)")
        let count = shape.reduce(1, *)
        self.init(storage: TensorStorage(dtype: dtype, count: count, zeroed: zeroed),
                  shape: shape, strides: Tensor.contiguousStrides(shape))
    }

    /// A tensor holding `values` in row-major order.
    public init<T: TensorElement>(_ values: [T], shape: [Int]? = nil) {
        let shape = shape ?? [values.count]
        precondition(shape.reduce(1, *) == values.count,
                     "Tensor: \(values.count) values do not fill shape \(shape)")
        self.init(uninitializedShape: shape, dtype: T.tensorDType, zeroed: false)
        let destination = storage.pointer(as: T.self)
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { destination.update(from: base, count: values.count) }
        }
    }

    /// A scalar (rank-0) tensor.
    public init(scalar value: Double, dtype: DType = .float32) {
        self.init(uninitializedShape: [], dtype: dtype, zeroed: false)
        storage.setElement(0, to: value)
    }

    public static func zeros(_ shape: [Int], dtype: DType = .float32) -> Tensor {
        Tensor(uninitializedShape: shape, dtype: dtype)
    }

    public static func ones(_ shape: [Int], dtype: DType = .float32) -> Tensor {
        full(1, shape: shape, dtype: dtype)
    }

    public static func full(_ value: Double, shape: [Int], dtype: DType = .float32) -> Tensor {
        let result = Tensor(uninitializedShape: shape, dtype: dtype, zeroed: false)
        for index in 0..<result.count { result.storage.setElement(index, to: value) }
        return result
    }

    /// 0, 1, …, n − 1.
    public static func arange(_ n: Int, dtype: DType = .int64) -> Tensor {
        let result = Tensor(uninitializedShape: [n], dtype: dtype, zeroed: false)
        for index in 0..<n { result.storage.setElement(index, to: Double(index)) }
        return result
    }

    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = running
            running *= Swift.max(1, shape[axis])
        }
        return strides
    }

    /// Whether elements are laid out row-major without gaps (size-1 axes may have any stride).
    public var isContiguous: Bool {
        var expected = 1
        for axis in stride(from: rank - 1, through: 0, by: -1) where shape[axis] != 1 {
            if strides[axis] != expected { return false }
            expected *= shape[axis]
        }
        return true
    }

    // MARK: Reading elements

    /// The elements in row-major order, converted to `T`.
    public func scalars<T: TensorElement>(as type: T.Type = T.self) -> [T] {
        let source = T.tensorDType == dtype ? self : self.cast(to: T.tensorDType, differentiable: false)
        let dense = source.contiguousStorageView()
        let pointer = dense.storage.pointer(as: T.self) + dense.offset
        return Array(UnsafeBufferPointer(start: pointer, count: dense.count))
    }

    /// Elements as Double (any dtype).
    public var doubles: [Double] { scalars(as: Double.self) }

    /// The value of a one-element tensor.
    public func item() -> Double {
        precondition(count == 1, "item(): tensor of shape \(shape) has \(count) elements")
        return doubles[0]
    }

    /// A contiguous tensor with the same values (the same tensor if already contiguous).
    func contiguousStorageView() -> Tensor {
        isContiguous ? self : materialized()
    }

    /// A fresh contiguous copy (no autograd).
    func materialized() -> Tensor {
        var result = Tensor(uninitializedShape: shape, dtype: dtype, zeroed: false)
        copyStrided(from: self, into: &result)
        return result
    }

    // MARK: Writing

    /// Whether the tensor is its whole storage, in order: `update` then writes in place (after a
    /// copy only if the storage is shared).
    public var isWholeStorage: Bool { isContiguous && offset == 0 && storage.count == count }

    /// Runs `body` on the element buffer of a contiguous tensor, copying shared storage first.
    /// Autograd does not see writes; use it for optimiser updates and initialisation.
    public mutating func update<T: TensorElement, R>(as type: T.Type,
                                                     _ body: (UnsafeMutableBufferPointer<T>) throws -> R) rethrows -> R {
        precondition(T.tensorDType == dtype, "update: tensor is \(dtype), not \(T.self)")
        precondition(isContiguous && offset == 0 && storage.count == count,
                     "update: tensor of shape \(shape) is a view; call contiguous() first")
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try body(UnsafeMutableBufferPointer(start: storage.pointer(as: T.self), count: count))
    }

    /// Reads the element buffer of the tensor (contiguous copy made if needed).
    public func withElements<T: TensorElement, R>(as type: T.Type,
                                                  _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
        precondition(T.tensorDType == dtype, "withElements: tensor is \(dtype), not \(T.self)")
        let dense = contiguousStorageView()
        return try body(UnsafeBufferPointer(start: dense.storage.pointer(as: T.self) + dense.offset, count: count))
    }

    /// Replaces the values (same shape and dtype) keeping the autograd identity (a leaf stays the same leaf).
    public mutating func assign(_ values: Tensor) {
        precondition(values.shape == shape, "assign: shape \(values.shape) differs from \(shape)")
        let converted = values.dtype == dtype ? values : values.cast(to: dtype, differentiable: false)
        let dense = converted.contiguousStorageView()
        let byteSize = dtype.byteSize
        if isContiguous && offset == 0 && storage.count == count {
            if !isKnownUniquelyReferenced(&storage) { storage = TensorStorage(dtype: dtype, count: count, zeroed: false) }
            storage.base.copyMemory(from: dense.storage.base + dense.offset * byteSize, byteCount: count * byteSize)
        } else {
            let fresh = TensorStorage(dtype: dtype, count: count, zeroed: false)
            fresh.base.copyMemory(from: dense.storage.base + dense.offset * byteSize, byteCount: count * byteSize)
            self = Tensor(storage: fresh, shape: shape, strides: Tensor.contiguousStrides(shape)).withNode(node)
        }
    }

    /// Writes `values` over positions `start ..< start + values.shape[axis]` along `axis`, outside
    /// autograd: in place when this tensor owns its storage alone (else it becomes a fresh copy
    /// first), so a buffer with room to grow takes new rows at the cost of those rows.
    public mutating func replaceSlice(axis: Int, start: Int, with values: Tensor) {
        var expected = shape
        expected[axis] = values.shape.count == rank ? values.shape[axis] : -1
        precondition(values.shape == expected && start >= 0 && start + expected[axis] <= shape[axis] && values.dtype == dtype,
                     "replaceSlice: \(values.shape) \(values.dtype) does not fit \(shape) \(dtype) at \(start) along axis \(axis)")
        if !isKnownUniquelyReferenced(&storage) || !isContiguous { self = materialized() }
        var window = Tensor(storage: storage, shape: values.shape, strides: strides, offset: offset + start * strides[axis])
        window.copyElements(from: values)
    }

    func withNode(_ node: GradNode?) -> Tensor {
        var copy = self
        copy.node = node
        return copy
    }
}

extension TensorStorage {
    func setElement(_ index: Int, to value: Double) {
        switch dtype {
        case .float32: pointer(as: Float.self)[index] = Float(value)
        case .float64: pointer(as: Double.self)[index] = value
        case .int32: pointer(as: Int32.self)[index] = Int32(value)
        case .int64: pointer(as: Int64.self)[index] = Int64(value)
        case .bool: pointer(as: Bool.self)[index] = value != 0
        }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let values = doubles
        let shown = values.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor<\(dtype)>\(shape) [\(shown)\(values.count > 8 ? ", …" : "")]"
            + (requiresGrad ? " (requires grad)" : "")
    }
}
