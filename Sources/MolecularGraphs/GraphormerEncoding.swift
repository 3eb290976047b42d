// Graphormer's input encodings and batch collation, as upstream's `data/wrapper.py`
// (`preprocess_item`), `data/algos.pyx` and `data/collator.py` compute them (microsoft/Graphormer):
//
// - Atom and bond features share one vocabulary: column c's value v becomes v + 1 + 512·c
//   (`convert_to_single_emb`); bond types on the pair grid get one more (+1, 0 = no bond).
// - Degrees from the adjacency; shortest-path distances by Floyd–Warshall (k, i, j loops, strict
//   improvement, unreachable = 510), with the intermediate node kept so each path is rebuilt as
//   upstream rebuilds it; `edge_input[i, j, h]` is the h-th bond's features along that path.
// - The collator adds 1 to every index (0 = padding), pads to the batch's largest graph, keeps
//   `multi_hop_max_dist` hops, and builds the attention base `[B, N+1, N+1]`: 0, −∞ where the
//   distance reaches `spatial_pos_max`, −∞ on padded keys, 0 on padded query rows (so no row is all
//   −∞ and no NaN appears: the bug dmlc/dgl#5476 had).

/// One graph after `preprocess_item`, before padding.
public struct GraphormerItem: Sendable, Equatable {
    public static let featureOffset = 512
    public static let unreachable = 510

    public var nodeCount: Int
    /// [N, 9]: feature + 1 + 512·column.
    public var x: [Int]
    /// [N]
    public var degree: [Int]
    /// [N, N]: shortest-path length, 510 when unreachable.
    public var spatialPos: [Int]
    /// [N, N, D, 3] with D = the longest finite path (at most `maxHops`): edge type + 2 + 512·column of
    /// each hop, −1 past the path's end.
    public var edgeInput: [Int]
    public var hops: Int
    /// [N, N, 3]: bond features + 2 + 512·column where a bond exists, else 0.
    public var attnEdgeType: [Int]

    /// `maxHops` bounds the stored hops (the collator keeps `multi_hop_max_dist` of them anyway;
    /// upstream stores up to 510 for a disconnected graph).
    public init(_ graph: MolecularGraph, maxHops: Int) {
        let n = graph.nodeCount, e = graph.edgeCount
        nodeCount = n
        x = graph.nodeFeatures.enumerated().map { $0.element + 1 + GraphormerItem.featureOffset * ($0.offset % 9) }
        var adjacency = [Bool](repeating: false, count: n * n)
        attnEdgeType = [Int](repeating: 0, count: n * n * 3)
        for k in 0..<e {
            let i = graph.edgeIndex[k], j = graph.edgeIndex[e + k]
            adjacency[i * n + j] = true
            for c in 0..<3 { attnEdgeType[(i * n + j) * 3 + c] = graph.edgeFeatures[k * 3 + c] + 2 + GraphormerItem.featureOffset * c }
        }
        degree = (0..<n).map { i in (0..<n).reduce(0) { $0 + (adjacency[i * n + $1] ? 1 : 0) } }
        // Floyd–Warshall as algos.pyx runs it.
        var distance = [Int](repeating: 0, count: n * n)
        var through = [Int](repeating: -1, count: n * n)
        for i in 0..<n { for j in 0..<n where i != j { distance[i * n + j] = adjacency[i * n + j] ? 1 : GraphormerItem.unreachable } }
        for k in 0..<n {
            for i in 0..<n {
                let ik = distance[i * n + k]
                for j in 0..<n where distance[i * n + j] > ik + distance[k * n + j] {
                    distance[i * n + j] = ik + distance[k * n + j]
                    through[i * n + j] = k
                }
            }
        }
        for p in 0..<(n * n) where distance[p] >= GraphormerItem.unreachable {
            distance[p] = GraphormerItem.unreachable
            through[p] = GraphormerItem.unreachable
        }
        spatialPos = distance
        let longest = distance.max() ?? 0
        hops = max(0, min(longest, maxHops))
        edgeInput = [Int](repeating: -1, count: n * n * hops * 3)
        guard hops > 0 else { return }
        func intermediates(_ i: Int, _ j: Int) -> [Int] {
            let k = through[i * n + j]
            return k == -1 ? [] : intermediates(i, k) + [k] + intermediates(k, j)
        }
        for i in 0..<n {
            for j in 0..<n where i != j && through[i * n + j] != GraphormerItem.unreachable {
                let path = [i] + intermediates(i, j) + [j]
                for h in 0..<min(path.count - 1, hops) {
                    let pair = path[h] * n + path[h + 1]
                    for c in 0..<3 { edgeInput[((i * n + j) * hops + h) * 3 + c] = attnEdgeType[pair * 3 + c] }
                }
            }
        }
    }
}

/// A padded batch, every index shifted by one so 0 means padding (upstream's collator output).
public struct GraphormerBatch: Sendable, Equatable {
    public var graphs: Int
    /// The largest graph's node count (N); sequences are N + 1 long with the graph token.
    public var nodes: Int
    public var hops: Int
    /// [B] real node counts.
    public var nodeCounts: [Int]
    /// [B, N, 9]
    public var x: [Int]
    /// [B, N]
    public var degree: [Int]
    /// [B, N, N]
    public var spatialPos: [Int]
    /// [B, N, N, hops, 3]
    public var edgeInput: [Int]
    /// [B, N+1, N+1]: 0, or −∞ (far pairs, padded keys).
    public var attnBias: [Float]
    /// [B, N, 3] atom positions (Å), zero where padded or where a molecule has none.
    public var positions: [Double]
    /// [B] whether each molecule came with positions.
    public var hasPositions: [Bool]

    /// `multiHopMaxDist` and `spatialPosMax` as upstream's task passes them (5 and 1024 by default);
    /// `positions`, empty or one entry per item, the atoms' coordinates where a molecule has them.
    public init(_ items: [GraphormerItem], positions: [[SIMD3<Double>]?] = [], multiHopMaxDist: Int = 5, spatialPosMax: Int = 1024) {
        precondition(positions.isEmpty || positions.count == items.count, "GraphormerBatch: \(positions.count) position sets for \(items.count) graphs")
        let b = items.count, n = items.map(\.nodeCount).max() ?? 0, t = n + 1
        let hopsKept = items.map { min($0.hops, multiHopMaxDist) }.max() ?? 0
        graphs = b
        nodes = n
        hops = hopsKept
        nodeCounts = items.map(\.nodeCount)
        x = [Int](repeating: 0, count: b * n * 9)
        degree = [Int](repeating: 0, count: b * n)
        spatialPos = [Int](repeating: 0, count: b * n * n)
        edgeInput = [Int](repeating: 0, count: b * n * n * hopsKept * 3)
        attnBias = [Float](repeating: 0, count: b * t * t)
        self.positions = [Double](repeating: 0, count: b * n * 3)
        hasPositions = [Bool](repeating: false, count: b)
        for (g, atoms) in positions.enumerated() {
            guard let atoms else { continue }
            precondition(atoms.count == items[g].nodeCount, "GraphormerBatch: \(atoms.count) positions for \(items[g].nodeCount) atoms")
            hasPositions[g] = true
            for (i, p) in atoms.enumerated() { for axis in 0..<3 { self.positions[(g * n + i) * 3 + axis] = p[axis] } }
        }
        for (g, item) in items.enumerated() {
            let m = item.nodeCount, itemHops = min(item.hops, multiHopMaxDist)
            for i in 0..<m {
                for c in 0..<9 { x[(g * n + i) * 9 + c] = item.x[i * 9 + c] + 1 }
                degree[g * n + i] = item.degree[i] + 1
                for j in 0..<m {
                    let d = item.spatialPos[i * m + j]
                    spatialPos[(g * n + i) * n + j] = d + 1
                    if d >= spatialPosMax { attnBias[(g * t + i + 1) * t + j + 1] = -.infinity }
                    for h in 0..<itemHops {
                        for c in 0..<3 {
                            edgeInput[(((g * n + i) * n + j) * hopsKept + h) * 3 + c] = item.edgeInput[((i * m + j) * item.hops + h) * 3 + c] + 1
                        }
                    }
                }
            }
            // Padded keys are −∞ in every row; padded query rows see the real keys with 0.
            for row in 0..<t { for column in (m + 1)..<t { attnBias[(g * t + row) * t + column] = -.infinity } }
        }
    }
}
