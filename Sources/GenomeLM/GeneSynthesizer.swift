// Synthetic genes from a codon-usage and gene-length model fitted on real genes: a first-order
// Markov chain over the 61 sense codons (pseudo-count 0.05), the stop codons' frequencies and the
// empirical distribution of gene lengths. The project ships genes made this way
// (Datasets/genslm/), so the main job needs no download; they carry real codon statistics without
// being anybody's sequences.
import TensorCore
import TensorIO

public struct CodonUsageModel: Sendable {
    static let bases: [Character] = ["A", "C", "G", "T"]
    static let all: [String] = bases.flatMap { a in bases.flatMap { b in bases.map { c in String([a, b, c]) } } }
    static let stops: Set<String> = ["TAA", "TAG", "TGA"]
    public static let senseCodons: [String] = all.filter { !stops.contains($0) }
    public static let stopCodons = ["TAA", "TAG", "TGA"]

    /// transitions[i][j]: probability of sense codon j after sense codon i.
    public let transitions: [[Double]]
    public let stopFrequencies: [Double]
    /// Sense codons between the start and the stop codon, one entry per fitted gene.
    public let lengths: [Int]

    /// Fits on genes that start with ATG, end with a stop codon and hold whole codons of ACGT.
    public init(fitting genes: [String], file: String = "genes") throws {
        let index = Dictionary(uniqueKeysWithValues: Self.senseCodons.enumerated().map { ($1, $0) })
        var counts = [[Double]](repeating: [Double](repeating: 0.05, count: 61), count: 61)
        var stops = [Double](repeating: 1, count: 3)
        var lengths: [Int] = []
        for gene in genes {
            let upper = Array(gene.uppercased())
            guard upper.count >= 9, upper.count % 3 == 0 else { continue }
            let codons = stride(from: 0, to: upper.count, by: 3).map { String(upper[$0..<($0 + 3)]) }
            guard codons.first == "ATG", let last = codons.last, let stop = Self.stopCodons.firstIndex(of: last) else { continue }
            let body = codons.dropLast()
            guard body.allSatisfy({ index[$0] != nil }) else { continue }
            for (a, b) in zip(body, body.dropFirst()) { counts[index[a]!][index[b]!] += 1 }
            stops[stop] += 1
            lengths.append(body.count - 1)
        }
        guard !lengths.isEmpty else {
            throw FileError(file: file, line: nil, message: "no gene to fit: expected ATG … stop codon sequences of whole ACGT codons")
        }
        transitions = counts.map { row in let total = row.reduce(0, +); return row.map { $0 / total } }
        let total = stops.reduce(0, +)
        stopFrequencies = stops.map { $0 / total }
        self.lengths = lengths
    }

    /// `count` genes: ATG, a length drawn from the fitted ones, codons from the chain, a stop codon.
    public func sample(count: Int, seed: UInt64) -> [String] {
        var generator = RandomGenerator(seed: seed)
        let atg = Self.senseCodons.firstIndex(of: "ATG")!
        func draw(_ probabilities: [Double], _ u: Double) -> Int {
            var running = 0.0
            for (index, p) in probabilities.enumerated() {
                running += p
                if u < running { return index }
            }
            return probabilities.count - 1
        }
        return (0..<count).map { _ in
            let lengthDraw = generator.uniform([1], dtype: .float64).doubles[0]
            let length = lengths[Swift.min(lengths.count - 1, Int(lengthDraw * Double(lengths.count)))]
            let uniforms = generator.uniform([length + 1], dtype: .float64).doubles
            var codon = atg
            var sequence = "ATG"
            for k in 0..<length {
                codon = draw(transitions[codon], uniforms[k])
                sequence += Self.senseCodons[codon]
            }
            return sequence + Self.stopCodons[draw(stopFrequencies, uniforms[length])]
        }
    }
}
