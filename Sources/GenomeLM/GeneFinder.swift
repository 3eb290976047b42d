// Open reading frames of a genome on both strands: the genes GenSLM models are codon sequences
// from start (ATG) to stop (TAA, TAG, TGA). A simple caller, enough to turn a phage genome into
// a gene set; not a replacement for Prodigal.

public struct OpenReadingFrame: Sendable, Equatable {
    /// 0-based start on the forward strand (of the first base of the start codon on that strand).
    public var start: Int
    /// 0-based end, exclusive, on the forward strand.
    public var end: Int
    /// "+" or "-".
    public var strand: Character
    /// Start codon to stop codon inclusive, 5′→3′ on the gene's strand.
    public var sequence: String
}

public enum GeneFinder {
    static func reverseComplement(_ bases: [UInt8]) -> [UInt8] {
        bases.reversed().map { base in
            switch base {
            case UInt8(ascii: "A"): UInt8(ascii: "T")
            case UInt8(ascii: "T"): UInt8(ascii: "A")
            case UInt8(ascii: "C"): UInt8(ascii: "G")
            case UInt8(ascii: "G"): UInt8(ascii: "C")
            default: UInt8(ascii: "N")
            }
        }
    }

    /// The longest ORF (first ATG after the previous in-frame stop) of each stop-to-stop stretch,
    /// at least `minimumLength` bases including the stop codon, on both strands, sorted by position.
    public static func openReadingFrames(in genome: String, minimumLength: Int = 300) -> [OpenReadingFrame] {
        let forward = Array(genome.uppercased().utf8)
        var result: [OpenReadingFrame] = []
        for (strand, bases) in [(Character("+"), forward), (Character("-"), reverseComplement(forward))] {
            for frame in 0..<3 {
                var start: Int?
                var index = frame
                while index + 3 <= bases.count {
                    let codon = String(decoding: bases[index..<(index + 3)], as: UTF8.self)
                    if start == nil && codon == "ATG" { start = index }
                    if codon == "TAA" || codon == "TAG" || codon == "TGA" {
                        if let begin = start, index + 3 - begin >= minimumLength {
                            let sequence = String(decoding: bases[begin..<(index + 3)], as: UTF8.self)
                            let (a, b) = strand == "+" ? (begin, index + 3) : (bases.count - index - 3, bases.count - begin)
                            result.append(OpenReadingFrame(start: a, end: b, strand: strand, sequence: sequence))
                        }
                        start = nil
                    }
                    index += 3
                }
            }
        }
        return result.sorted { ($0.start, $0.strand == "+" ? 0 : 1) < ($1.start, $1.strand == "+" ? 0 : 1) }
    }
}
