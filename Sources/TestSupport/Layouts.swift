// Memory layouts an op must handle: each builds a leaf and a view of it with the target shape.
import TensorCore

/// One way of laying out a tensor of a given shape in memory.
public struct Layout: Sendable, CustomStringConvertible {
    public let name: String
    /// The shape of the stored leaf for a target shape.
    public let leafShape: @Sendable ([Int]) -> [Int]
    /// The view of a leaf that has the target shape.
    public let view: @Sendable (Tensor, [Int]) -> Tensor

    public var description: String { name }

    /// Random float64 leaf values for `shape` in this layout.
    public func leaf(for shape: [Int], generator: inout RandomGenerator) -> Tensor {
        generator.uniform(leafShape(shape), low: -1, high: 1, dtype: .float64)
    }

    public static let contiguous = Layout(name: "contiguous", leafShape: { $0 }, view: { leaf, _ in leaf })

    /// The last two axes stored swapped (a transposed view).
    public static let transposed = Layout(
        name: "transposed",
        leafShape: { shape in shape.count < 2 ? shape : Array(shape.dropLast(2)) + [shape[shape.count - 1], shape[shape.count - 2]] },
        view: { leaf, shape in shape.count < 2 ? leaf : leaf.transposed(-1, -2) })

    /// The first axis stored once and broadcast (stride 0).
    public static let broadcast = Layout(
        name: "broadcast",
        leafShape: { shape in shape.isEmpty ? shape : [1] + shape.dropFirst() },
        view: { leaf, shape in leaf.expanded(to: shape) })

    /// Every other element of a twice-longer last axis (stride 2).
    public static let sliced = Layout(
        name: "sliced",
        leafShape: { shape in shape.isEmpty ? shape : Array(shape.dropLast()) + [shape[shape.count - 1] * 2] },
        view: { leaf, shape in shape.isEmpty ? leaf : leaf.sliced(axis: -1, 0, nil, step: 2) })

    /// A view starting one row into its storage (non-zero offset).
    public static let offset = Layout(
        name: "offset",
        leafShape: { shape in shape.isEmpty ? shape : [shape[0] + 1] + shape.dropFirst() },
        view: { leaf, shape in shape.isEmpty ? leaf : leaf.sliced(axis: 0, 1) })

    public static let all: [Layout] = [.contiguous, .transposed, .broadcast, .sliced, .offset]
}
