// Invariant point attention (model/structure_module.py `InvariantPointAttention`): attention
// over residues from scalar queries/keys, the pair bias, and distances between query and key
// points placed in each residue's frame; outputs scalar, point (back in the local frame), point
// norm and pair channels. Unchanged when every frame moves by one global rigid motion.
import Foundation
import NeuralNetworks
import TensorCore

public final class InvariantPointAttention: Module {
    public let linearQ: Linear, linearKV: Linear, linearQPoints: Linear, linearKVPoints: Linear, linearB: Linear, linearOut: Linear
    public let headWeights: Parameter
    public let heads: Int, hidden: Int, queryPoints: Int, valuePoints: Int
    /// Mask bias scale (1e5) and the point-norm epsilon (1e-8), as upstream.
    public let infinity = 1e5, epsilon = 1e-8

    public init(singleChannels: Int = 384, pairChannels: Int = 128, hidden: Int = 16, heads: Int = 12, queryPoints: Int = 4,
                valuePoints: Int = 8, dtype: DType = .float32, generator: inout RandomGenerator) {
        (self.heads, self.hidden, self.queryPoints, self.valuePoints) = (heads, hidden, queryPoints, valuePoints)
        linearQ = Linear(singleChannels, heads * hidden, initialization: .lecun, dtype: dtype, generator: &generator)
        linearKV = Linear(singleChannels, 2 * heads * hidden, initialization: .lecun, dtype: dtype, generator: &generator)
        linearQPoints = Linear(singleChannels, heads * queryPoints * 3, initialization: .lecun, dtype: dtype, generator: &generator)
        linearKVPoints = Linear(singleChannels, heads * (queryPoints + valuePoints) * 3, initialization: .lecun, dtype: dtype, generator: &generator)
        linearB = Linear(pairChannels, heads, initialization: .lecun, dtype: dtype, generator: &generator)
        // softplus⁻¹(1): the head weights start at 1.
        headWeights = Parameter(Tensor.full(log(exp(1) - 1), shape: [heads], dtype: dtype))
        linearOut = Linear(heads * (hidden + pairChannels + valuePoints * 4), singleChannels, initialization: .zeros, dtype: dtype,
                           generator: &generator)
    }

    /// Points `[B, N, H·P·3]` laid out as three blocks (x…, y…, z…) → `[B, N, H·P, 3]`, as upstream splits them.
    func points(_ flat: Tensor, count: Int) -> Tensor {
        let (b, n) = (flat.shape[0], flat.shape[1])
        return flat.reshaped([b, n, 3, count]).transposed(-1, -2)
    }

    /// s `[B, N, c_s]`, z `[B, N, N, c_z]`, frames, mask `[B, N]` (0/1) → `[B, N, c_s]`.
    public func callAsFunction(_ s: Tensor, pair z: Tensor, frames: Rigid, mask: Tensor) -> Tensor {
        let (b, n) = (s.shape[0], s.shape[1])
        let (h, c, pq, pv) = (heads, hidden, queryPoints, valuePoints)
        let q = linearQ(s).reshaped([b, n, h, c])
        let kv = linearKV(s).reshaped([b, n, h, 2 * c])
        let k = kv.sliced(axis: -1, 0, c), v = kv.sliced(axis: -1, c, 2 * c)
        let qPoints = frames.apply(points(linearQPoints(s), count: h * pq)).reshaped([b, n, h, pq, 3])
        let kvPoints = frames.apply(points(linearKVPoints(s), count: h * (pq + pv))).reshaped([b, n, h, pq + pv, 3])
        let kPoints = kvPoints.sliced(axis: 3, 0, pq), vPoints = kvPoints.sliced(axis: 3, pq, pq + pv)

        // Scalar and pair terms: [B, H, N, N].
        var logits = q.permuted([0, 2, 1, 3]).matmul(k.permuted([0, 2, 3, 1])) * (1 / (3 * Double(c))).squareRoot()
        logits = logits + linearB(z).permuted([0, 3, 1, 2]) * (1.0 / 3).squareRoot()
        // Point term: −½·w_h·Σ_p ‖q_ip − k_jp‖², with ‖a − b‖² = ‖a‖² + ‖b‖² − 2a·b.
        let qFlat = qPoints.permuted([0, 2, 1, 3, 4]).reshaped([b, h, n, pq * 3])
        let kFlat = kPoints.permuted([0, 2, 1, 3, 4]).reshaped([b, h, n, pq * 3])
        let squared = (qFlat * qFlat).sum(axis: -1).unsqueezed(axis: -1) + (kFlat * kFlat).sum(axis: -1).unsqueezed(axis: -2)
            - qFlat.matmul(kFlat.transposed(-1, -2)) * 2
        let weights = headWeights.value.softplus() * (1 / (3 * (Double(pq) * 9 / 2))).squareRoot()
        logits = logits - squared * weights.reshaped([1, h, 1, 1]) * 0.5
        let square = mask.unsqueezed(axis: -1) * mask.unsqueezed(axis: -2)  // [B, N, N]
        logits = logits + ((square - 1) * infinity).unsqueezed(axis: 1)
        let attention = logits.softmax(axis: -1)  // [B, H, N, N]

        let o = attention.matmul(v.permuted([0, 2, 1, 3])).permuted([0, 2, 1, 3]).reshaped([b, n, h * c])
        let vFlat = vPoints.permuted([0, 2, 1, 3, 4]).reshaped([b, h, n, pv * 3])
        let globalPoints = attention.matmul(vFlat).reshaped([b, h, n, pv, 3]).permuted([0, 2, 1, 3, 4]).reshaped([b, n, h * pv, 3])
        let localPoints = frames.invertApply(globalPoints)  // [B, N, H·Pv, 3]
        let norms = ((localPoints * localPoints).sum(axis: -1) + epsilon).sqrt()
        let oPair = attention.permuted([0, 2, 1, 3]).matmul(z).reshaped([b, n, h * z.shape[3]])  // [B, N, H, N]·[B, N, N, c_z]
        let coordinates = (0..<3).map { localPoints.sliced(axis: -1, $0, $0 + 1).squeezed(axis: -1) }
        return linearOut(Tensor.concat([o] + coordinates + [norms, oPair], axis: -1))
    }
}
