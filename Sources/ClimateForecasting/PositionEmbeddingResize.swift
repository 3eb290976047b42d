// Pretrained position embeddings on another grid (ClimaX utils/pos_embed.py `interpolate_pos_embed`):
// the [1, h·w, D] table is read as a D-channel h×w image and resampled bicubically to the new
// patch grid, as torch's `interpolate(mode="bicubic", align_corners=False)` does it (Keys' cubic
// with a = −0.75, source index (i + ½)·in/out − ½, neighbours clamped at the edges). Upstream infers
// the old grid from L alone assuming width = 2·height and only resizes when the height changed;
// here the old grid is found from L with the new grid's aspect ratio, and any change resizes.
import TensorCore

public enum PositionEmbeddingResize {
    /// The patch grid (rows, columns) of `tokens` positions with the aspect ratio of `like`, or nil.
    public static func grid(tokens: Int, like: (rows: Int, columns: Int)) -> (rows: Int, columns: Int)? {
        for rows in 1...Swift.max(1, tokens) where tokens % rows == 0 {
            let columns = tokens / rows
            if rows * like.columns == columns * like.rows { return (rows, columns) }
        }
        return nil
    }

    /// `table` `[1, h·w, D]` (row-major patches) resampled to `[1, H·W, D]`, in its dtype.
    public static func bicubic(_ table: Tensor, from old: (rows: Int, columns: Int), to new: (rows: Int, columns: Int)) -> Tensor {
        let d = table.shape[2]
        precondition(table.shape == [1, old.rows * old.columns, d], "PositionEmbeddingResize: \(table.shape) is not [1, \(old.rows)·\(old.columns), D]")
        let values = table.doubles
        let rows = weights(from: old.rows, to: new.rows), columns = weights(from: old.columns, to: new.columns)
        var out = [Double](repeating: 0, count: new.rows * new.columns * d)
        for i in 0..<new.rows {
            for j in 0..<new.columns {
                let target = (i * new.columns + j) * d
                for (row, wy) in rows[i] {
                    for (column, wx) in columns[j] {
                        let source = (row * old.columns + column) * d, weight = wy * wx
                        for c in 0..<d { out[target + c] += weight * values[source + c] }
                    }
                }
            }
        }
        return Tensor(out, shape: [1, new.rows * new.columns, d]).cast(to: table.dtype)
    }

    /// For each output index along one axis, its four (source index, weight) pairs.
    static func weights(from input: Int, to output: Int) -> [[(Int, Double)]] {
        let a = -0.75, scale = Double(input) / Double(output)
        func near(_ x: Double) -> Double { ((a + 2) * x - (a + 3)) * x * x + 1 }           // |x| ≤ 1
        func far(_ x: Double) -> Double { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }      // 1 < |x| < 2
        return (0..<output).map { i in
            let real = (Double(i) + 0.5) * scale - 0.5
            let base = Int(real.rounded(.down)), t = real - real.rounded(.down)
            let coefficients = [far(t + 1), near(t), near(1 - t), far(2 - t)]
            return (0..<4).map { k in (Swift.min(Swift.max(base - 1 + k, 0), input - 1), coefficients[k]) }
        }
    }
}
