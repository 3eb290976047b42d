// Tensors through a communicator in their own precision: a float32 tensor travels as 4 bytes an
// element (counted by `scizoo bench ulysses` against DeepSpeed-Ulysses' 4·N·h/P formula).
import TensorCore

/// A tensor operation in flight; `wait()` completes it.
public struct PendingTensor {
    private let finish: () throws -> Tensor
    init(_ finish: @escaping () throws -> Tensor) { self.finish = finish }
    public func wait() throws -> Tensor { try finish() }

    /// Starts an element-wise reduction of `tensor` over the ranks of `communicator`.
    public static func allReduce(_ tensor: Tensor, _ operation: ReduceOperation = .sum,
                                 over communicator: any Communicator) throws -> PendingTensor {
        func start<T: CommunicatorElement & TensorElement>(_: T.Type) throws -> PendingTensor {
            let pending = try communicator.startAllReduce(tensor.scalars(as: T.self), operation)
            let shape = tensor.shape
            return PendingTensor { Tensor(try pending.wait(), shape: shape) }
        }
        return try TensorTransport.dispatch(tensor.dtype, "allReduce", float: { try start(Float.self) },
                                            double: { try start(Double.self) }, int32: { try start(Int32.self) },
                                            int64: { try start(Int64.self) })
    }
}

public enum TensorTransport {
    /// Every rank ends with the root's tensor (same shape and dtype on every rank).
    public static func broadcast(_ tensor: Tensor, root: Int, over communicator: any Communicator) throws -> Tensor {
        func run<T: CommunicatorElement & TensorElement>(_: T.Type) throws -> Tensor {
            Tensor(try communicator.broadcast(tensor.scalars(as: T.self), root: root), shape: tensor.shape)
        }
        return try dispatch(tensor.dtype, "broadcast", float: { try run(Float.self) }, double: { try run(Double.self) },
                            int32: { try run(Int32.self) }, int64: { try run(Int64.self) })
    }

    /// `blocks[j]` goes to rank j; returns the tensor each rank sent here, shaped by `shapes[source]`.
    public static func allToAllV(_ blocks: [Tensor], receivedShapes shapes: [[Int]], over communicator: any Communicator) throws -> [Tensor] {
        let dtype = blocks.first?.dtype ?? .float32
        func run<T: CommunicatorElement & TensorElement>(_: T.Type) throws -> [Tensor] {
            let received = try communicator.allToAllV(blocks.map { $0.scalars(as: T.self) })
            return try zip(received, shapes).map { values, shape in
                guard values.count == shape.reduce(1, *) else {
                    throw CommunicatorError(message: "allToAllV: received \(values.count) values, expected a tensor of shape \(shape)")
                }
                return Tensor(values, shape: shape)
            }
        }
        return try dispatch(dtype, "allToAllV", float: { try run(Float.self) }, double: { try run(Double.self) },
                            int32: { try run(Int32.self) }, int64: { try run(Int64.self) })
    }

    /// Every rank's tensor (equal shapes) concatenated along `axis` in rank order.
    public static func allGather(_ tensor: Tensor, axis: Int, over communicator: any Communicator) throws -> Tensor {
        func run<T: CommunicatorElement & TensorElement>(_: T.Type) throws -> Tensor {
            let all = try communicator.allGather(tensor.scalars(as: T.self))
            let count = tensor.count
            let pieces = (0..<communicator.size).map { Tensor(Array(all[($0 * count)..<(($0 + 1) * count)]), shape: tensor.shape) }
            return Tensor.concat(pieces, axis: axis)
        }
        return try dispatch(tensor.dtype, "allGather", float: { try run(Float.self) }, double: { try run(Double.self) },
                            int32: { try run(Int32.self) }, int64: { try run(Int64.self) })
    }

    static func dispatch<R>(_ dtype: DType, _ operation: String, float: () throws -> R, double: () throws -> R,
                            int32: () throws -> R, int64: () throws -> R) throws -> R {
        switch dtype {
        case .float32: try float()
        case .float64: try double()
        case .int32: try int32()
        case .int64: try int64()
        case .bool: throw CommunicatorError(message: "\(operation): bool tensors do not travel; cast them to int32 first")
        }
    }
}
