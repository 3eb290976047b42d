// Numbers read from text files. "nan", "inf" and "infinity" parse as Doubles, so a reader that
// takes them hands non-finite values to the losses and metrics unnoticed; readers use this instead.

extension Double {
    /// The number `text` spells, when it is finite; nil for anything else, "nan" and "inf" included.
    /// (A static function, not an initialiser: `Double.init` references elsewhere stay unambiguous.)
    public static func finite<Text: StringProtocol>(_ text: Text) -> Double? {
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }
}
