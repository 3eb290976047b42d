// The fuzz harness's mutations: what damaged, hand-edited or wrongly encoded input files look like.
// Each iteration draws from its own generator (seed, iteration), so one iteration can be replayed
// alone (`scizoo fuzz FORMAT --seed S --start I --iterations 1`).

/// One mutation of a file's bytes.
enum FuzzMutation: CaseIterable {
    case flipBits, truncate, insertRandomBytes, insertToken, replaceNumber, duplicateLine, deleteLine, swapLines,
         duplicateChunk, overwriteInteger, zeroRange, reencodeUTF16

    /// Text that parsers are known to mishandle: non-finite and out-of-range numbers, separators,
    /// byte-order marks, invalid UTF-8 (a lone continuation byte, an overlong form, a surrogate).
    static let tokens: [[UInt8]] = [
        "NaN", "nan", "inf", "-inf", "Infinity", "1e999", "-1e999", "-1", "0", "-0", "1e-400",
        "18446744073709551616", "9223372036854775807", "-9223372036854775808", "4294967296", "99999999999999999999999",
        "0x7fffffff", "1.5", "\u{0}", "\n", "\r\n", "\r", "\t", " ", "#", ">", "\"", "'", "{", "}", "[", "]", ":", ",", "=",
        "//", "No 1", "loop_", "_atom_site.", "ATOM  ", "$$$$", "M  END", "# STOCKHOLM 1.0", "~", "null", "true",
    ].map { Array($0.utf8) } + [[0xEF, 0xBB, 0xBF], [0xFF, 0xFE], [0x80], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xC3, 0x28], [0xFF]]

    /// Integers that length and offset fields must survive: zero, one past small sizes, signed and
    /// unsigned limits, values that overflow when multiplied by an element size.
    static let integers: [UInt64] = [0, 1, 2, 7, 16, 255, 256, 0x7FFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
                                     0x1_0000_0000, 0x100_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, .max]

    /// Applies 1 to 4 mutations (fewer more often) to `bytes`.
    static func mutate(_ bytes: [UInt8], generator: inout SplitMix64) -> [UInt8] {
        var result = bytes
        var count = 1
        while count < 4 && generator.next() % 3 == 0 { count += 1 }
        // Stacked duplications of a long binary "line" could make a gigabyte input: the harness's
        // own allocation, not the reader's. A mutation that grows the input past 8× (or 1 MiB) is undone.
        let limit = Swift.max(8 * bytes.count, 1 << 20)
        for _ in 0..<count {
            let mutation = allCases[Int(generator.next() % UInt64(allCases.count))]
            let mutated = mutation.apply(result, generator: &generator)
            if mutated.count <= limit { result = mutated }
        }
        return result
    }

    func apply(_ input: [UInt8], generator: inout SplitMix64) -> [UInt8] {
        var bytes = input
        func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(generator.next() % UInt64(n)) }
        func lineRanges() -> [Range<Int>] {
            var ranges: [Range<Int>] = [], start = 0
            for (index, byte) in bytes.enumerated() where byte == 0x0A {
                ranges.append(start..<(index + 1))
                start = index + 1
            }
            if start < bytes.count { ranges.append(start..<bytes.count) }
            return ranges
        }
        switch self {
        case .flipBits:
            guard !bytes.isEmpty else { return bytes }
            for _ in 0..<(1 + below(8)) {
                let bit = below(bytes.count * 8)
                bytes[bit / 8] ^= UInt8(1) << UInt8(bit % 8)
            }
        case .truncate:
            bytes.removeSubrange(below(bytes.count + 1)...)
        case .insertRandomBytes:
            let inserted = (0..<(1 + below(64))).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            bytes.insert(contentsOf: inserted, at: below(bytes.count + 1))
        case .insertToken:
            let token = Self.tokens[below(Self.tokens.count)]
            bytes.insert(contentsOf: token, at: below(bytes.count + 1))
        case .replaceNumber:
            // A run of digits (with sign, point and exponent) at or after a random offset.
            func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
            let startSearch = below(bytes.count)
            guard let first = bytes[startSearch...].firstIndex(where: isDigit) ?? bytes.firstIndex(where: isDigit) else {
                return Self.insertToken.apply(bytes, generator: &generator)
            }
            var start = first, end = first
            while start > 0, isDigit(bytes[start - 1]) || bytes[start - 1] == 0x2E || bytes[start - 1] == 0x2D { start -= 1 }
            while end < bytes.count, isDigit(bytes[end]) || bytes[end] == 0x2E || bytes[end] == 0x65 || bytes[end] == 0x45 { end += 1 }
            let replacements = ["NaN", "inf", "-inf", "1e999", "-1", "0", "99999999999999999999", "9223372036854775807", "2147483648", "-0.0", "1e-320", "abc", ""]
            bytes.replaceSubrange(start..<end, with: Array(replacements[below(replacements.count)].utf8))
        case .duplicateLine, .deleteLine, .swapLines:
            let lines = lineRanges()
            guard !lines.isEmpty else { return Self.insertToken.apply(bytes, generator: &generator) }
            let a = lines[below(lines.count)], b = lines[below(lines.count)]
            switch self {
            case .duplicateLine:
                let copies = 1 + (generator.next() % 8 == 0 ? below(200) : 0)
                let line = Array(bytes[a])
                bytes.insert(contentsOf: Array([[UInt8]](repeating: line, count: copies).joined()), at: b.lowerBound)
            case .deleteLine:
                bytes.removeSubrange(a)
            default:
                guard a != b else { return bytes }
                let (first, second) = a.lowerBound < b.lowerBound ? (a, b) : (b, a)
                bytes = Array(bytes[..<first.lowerBound]) + Array(bytes[second]) + Array(bytes[first.upperBound..<second.lowerBound])
                    + Array(bytes[first]) + Array(bytes[second.upperBound...])
            }
        case .duplicateChunk:
            guard !bytes.isEmpty else { return bytes }
            let start = below(bytes.count), length = 1 + below(Swift.min(4096, bytes.count - start))
            let chunk = Array(bytes[start..<(start + length)])
            bytes.insert(contentsOf: chunk, at: below(bytes.count + 1))
        case .overwriteInteger:
            // A length or offset field: an aligned 2-, 4- or 8-byte little-endian integer.
            let width = [2, 4, 8][below(3)]
            guard bytes.count >= width else { return bytes }
            let offset = below((bytes.count - width) / width + 1) * width
            var value = Self.integers[below(Self.integers.count)]
            if generator.next() % 4 == 0 { value = value &+ UInt64(below(3)) &- 1 }
            for k in 0..<width { bytes[offset + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
        case .zeroRange:
            guard !bytes.isEmpty else { return bytes }
            let start = below(bytes.count), length = 1 + below(Swift.min(512, bytes.count - start))
            for index in start..<(start + length) { bytes[index] = 0 }
        case .reencodeUTF16:
            // The file saved as UTF-16 by an editor: a byte-order mark, two bytes a character.
            guard let text = String(validating: bytes, as: UTF8.self) else { return Self.flipBits.apply(bytes, generator: &generator) }
            bytes = [0xFF, 0xFE] + text.utf16.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
        }
        return bytes
    }
}
