// Rigid frames as AlphaFold's structure module uses them (utils/rigid_utils.py): a rotation R
// `[B, N, 3, 3]` and a translation t `[B, N, 3]` per residue, differentiable tensors.
import TensorCore

public struct Rigid {
    public var rotation: Tensor
    public var translation: Tensor

    public init(rotation: Tensor, translation: Tensor) {
        self.rotation = rotation
        self.translation = translation
    }

    /// Identity frames for `[B, N]`.
    public static func identity(batch: Int, residues: Int, dtype: DType) -> Rigid {
        let eye = Tensor([1, 0, 0, 0, 1, 0, 0, 0, 1] as [Double], shape: [1, 1, 3, 3]).cast(to: dtype)
        return Rigid(rotation: eye.expanded(to: [batch, residues, 3, 3]).contiguous(), translation: .zeros([batch, residues, 3], dtype: dtype))
    }

    /// x ↦ R·x + t for points `[B, N, P, 3]` (P points per residue, each in its residue's frame).
    public func apply(_ points: Tensor) -> Tensor {
        points.matmul(rotation.transposed(-1, -2)) + translation.unsqueezed(axis: 2)
    }

    /// x ↦ Rᵀ·(x − t): global points `[B, N, P, 3]` into each residue's frame.
    public func invertApply(_ points: Tensor) -> Tensor {
        (points - translation.unsqueezed(axis: 2)).matmul(rotation)
    }

    /// self ∘ other: R = R₁·R₂, t = R₁·t₂ + t₁.
    public func composed(with other: Rigid) -> Rigid {
        Rigid(rotation: rotation.matmul(other.rotation),
              translation: other.translation.unsqueezed(axis: -2).matmul(rotation.transposed(-1, -2)).squeezed(axis: -2) + translation)
    }

    /// The frames with the rotation detached (AlphaFold stops rotation gradients between iterations).
    public func stoppingRotationGradient() -> Rigid { Rigid(rotation: rotation.detached(), translation: translation) }

    /// Rotation of the unit quaternion (1, b, c, d)/‖·‖ with vector part `[B, N, 3]`, as the
    /// backbone update predicts it.
    public static func rotation(quaternionVector v: Tensor) -> Tensor {
        let b = v.sliced(axis: -1, 0, 1), c = v.sliced(axis: -1, 1, 2), d = v.sliced(axis: -1, 2, 3)
        let norm = (b * b + c * c + d * d + 1).sqrt()
        let (w, x, y, z) = (1 / norm, b / norm, c / norm, d / norm)
        let entries = [w * w + x * x - y * y - z * z, (x * y - w * z) * 2, (x * z + w * y) * 2,
                       (x * y + w * z) * 2, w * w - x * x + y * y - z * z, (y * z - w * x) * 2,
                       (x * z - w * y) * 2, (y * z + w * x) * 2, w * w - x * x - y * y + z * z]
        let shape = Array(v.shape.dropLast()) + [3, 3]
        return Tensor.concat(entries, axis: -1).reshaped(shape)
    }
}
