// Differentiable edge geometry for message passing on atoms: the neighbour list fixes which
// pairs and which images; the vectors and distances are recomputed from the position tensor so
// that forces (−∂E/∂R), stress (∂E/∂cell through a strain) and force-loss training (∂²E) reach
// the positions and the cell.
import TensorCore

public enum EdgeGeometry {
    /// D_e = R[j_e] − R[i_e] + S_e · cell: `positions` `[N, 3]`, `first`/`second` `[E]` int64,
    /// `shifts` `[E, 3]` (float, the positions' dtype), `cell` `[3, 3]` rows (nil: no periodic
    /// images) → `[E, 3]`.
    public static func vectors(positions: Tensor, first: Tensor, second: Tensor, shifts: Tensor? = nil,
                               cell: Tensor? = nil) -> Tensor {
        precondition(positions.rank == 2 && positions.shape[1] == 3, "EdgeGeometry: positions \(positions.shape) must be [N, 3]")
        let relative = positions.indexSelect(axis: 0, second) - positions.indexSelect(axis: 0, first)
        guard let shifts, let cell else { return relative }
        precondition(shifts.shape == [first.count, 3] && cell.shape == [3, 3],
                     "EdgeGeometry: shifts \(shifts.shape) must be [E, 3] and cell \(cell.shape) [3, 3]")
        return relative + shifts.matmul(cell)
    }

    /// |D| per edge: `[E, 3]` → `[E]`. Pairs at distance 0 have no gradient there (overlapping
    /// atoms are a data error the caller reports).
    public static func distances(_ vectors: Tensor) -> Tensor {
        vectors.square().sum(axis: -1).sqrt()
    }
}
