//! Every word of the scan page, in Vietnamese and English. A missing string
//! is a compile error, not a blank on a consumer's phone.

use crate::domain::scan::Verdict;

pub(crate) struct Strings {
    pub recall_title: &'static str,
    pub recall_reason: &'static str,
    pub ocop: &'static str,
    pub stars: &'static str,
    pub decision: &'static str,
    pub rating_lapsed: &'static str,
    pub valid_until: &'static str,
    pub lot: &'static str,
    pub produced: &'static str,
    pub expires: &'static str,
    pub raw_material: &'static str,
    pub producer: &'static str,
    pub name: &'static str,
    pub origin: &'static str,
    pub phone: &'static str,
    pub stages: &'static str,
    pub certifications: &'static str,
    pub cert_lapsed: &'static str,
    pub this_stamp: &'static str,
    pub serial: &'static str,
    pub short_code: &'static str,
    pub scans: &'static str,
    pub share_location: &'static str,
    pub location_thanks: &'static str,
    pub location_failed: &'static str,
    pub report_title: &'static str,
    pub report_kind: &'static str,
    pub kind_fake: &'static str,
    pub kind_wrong: &'static str,
    pub kind_expired: &'static str,
    pub kind_other: &'static str,
    pub report_place: &'static str,
    pub report_message: &'static str,
    pub report_send: &'static str,
    pub report_thanks: &'static str,
    pub report_thanks_detail: &'static str,
    pub claim_title: &'static str,
    pub claim_help: &'static str,
    pub claim_code: &'static str,
    pub claim_province: &'static str,
    pub claim_no_province: &'static str,
    pub claim_send: &'static str,
    pub claim_done: &'static str,
    pub claim_done_detail: &'static str,
    pub claim_before: &'static str,
    pub claim_wrong: &'static str,
    pub claim_wrong_detail: &'static str,
    pub claim_locked: &'static str,
    pub claim_locked_detail: &'static str,
    pub busy: &'static str,
    pub busy_detail: &'static str,
    pub limited: &'static str,
    pub limited_detail: &'static str,
    pub scan_again: &'static str,
    pub other_language: &'static str,
    vi: bool,
}

pub static VI: Strings = Strings {
    recall_title: "Lô hàng này đã bị thu hồi",
    recall_reason: "Lý do",
    ocop: "Hạng OCOP",
    stars: "sao",
    decision: "Quyết định",
    rating_lapsed: "Đã hết hiệu lực từ",
    valid_until: "còn hiệu lực đến",
    lot: "Lô sản xuất",
    produced: "Ngày sản xuất",
    expires: "Hạn sử dụng",
    raw_material: "Vùng nguyên liệu",
    producer: "Nhà sản xuất",
    name: "Tên",
    origin: "Địa chỉ, xuất xứ",
    phone: "Điện thoại",
    stages: "Các công đoạn",
    certifications: "Tiêu chuẩn, chứng nhận",
    cert_lapsed: "đã hết hạn từ",
    this_stamp: "Tem này",
    serial: "Số sê-ri",
    short_code: "Mã ngắn",
    scans: "Lượt quét",
    share_location: "Chia sẻ vị trí của tôi",
    location_thanks: "Cảm ơn, đã ghi nhận vị trí.",
    location_failed: "Không lấy được vị trí.",
    report_title: "Báo cáo vấn đề",
    report_kind: "Vấn đề",
    kind_fake: "Sản phẩm có vẻ là hàng giả",
    kind_wrong: "Thông tin không đúng",
    kind_expired: "Sản phẩm đã hết hạn",
    kind_other: "Khác",
    report_place: "Nơi mua (không bắt buộc)",
    report_message: "Ghi chú (không bắt buộc)",
    report_send: "Gửi báo cáo",
    report_thanks: "Cảm ơn bạn",
    report_thanks_detail: "Báo cáo đã được gửi tới nhà sản xuất và cơ quan quản lý.",
    claim_title: "Bạn đã mua sản phẩm này?",
    claim_help: "Cào lớp phủ trên tem và nhập mã bên dưới. Sau đó, ai quét lại tem này sẽ biết nó đã có người mua: tem sao chép bị phát hiện chắc chắn.",
    claim_code: "Mã dưới lớp cào",
    claim_province: "Tỉnh, thành nơi bạn mua (không bắt buộc)",
    claim_no_province: "— không nói —",
    claim_send: "Xác nhận đã mua",
    claim_done: "Đã xác nhận: bạn là người mua",
    claim_done_detail: "Tem này giờ thuộc về gói hàng của bạn. Ai quét lại sẽ được báo tem đã có người mua.",
    claim_before: "Tem này đã được xác nhận trước đó",
    claim_wrong: "Mã chưa đúng",
    claim_wrong_detail: "Hãy kiểm tra lại các chữ số dưới lớp cào. Số lần thử còn lại:",
    claim_locked: "Tem tạm khóa",
    claim_locked_detail: "Đã nhập sai quá nhiều lần. Hãy liên hệ nhà sản xuất để mở khóa.",
    busy: "Chưa kiểm tra được tem này",
    busy_detail: "Hệ thống đang bận hoặc đang bảo trì; lượt quét này chưa được ghi nhận. Vui lòng quét lại sau ít phút.",
    limited: "Quá nhiều lượt quét từ mạng của bạn",
    limited_detail: "Lượt quét này chưa được ghi nhận. Vui lòng đợi một phút rồi quét lại.",
    scan_again: "Quét lại",
    other_language: "English",
    vi: true,
};

pub static EN: Strings = Strings {
    recall_title: "This batch has been recalled",
    recall_reason: "Reason",
    ocop: "OCOP rating",
    stars: "stars",
    decision: "Decision",
    rating_lapsed: "Lapsed on",
    valid_until: "valid until",
    lot: "Lot",
    produced: "Produced",
    expires: "Best before",
    raw_material: "Raw material area",
    producer: "Producer",
    name: "Name",
    origin: "Address, origin",
    phone: "Phone",
    stages: "Production stages",
    certifications: "Standards and certifications",
    cert_lapsed: "expired on",
    this_stamp: "This stamp",
    serial: "Serial",
    short_code: "Short code",
    scans: "Scans",
    share_location: "Share my location",
    location_thanks: "Thank you, location recorded.",
    location_failed: "Could not get a location.",
    report_title: "Report a problem",
    report_kind: "Problem",
    kind_fake: "The product looks fake",
    kind_wrong: "The information is wrong",
    kind_expired: "The product is past its date",
    kind_other: "Other",
    report_place: "Where you bought it (optional)",
    report_message: "Note (optional)",
    report_send: "Send report",
    report_thanks: "Thank you",
    report_thanks_detail: "Your report has been sent to the producer and the inspectors.",
    claim_title: "Bought this product?",
    claim_help: "Scratch the panel on the stamp and enter the code below. Anyone who scans this stamp afterwards will learn it has a buyer: a copied stamp is caught for certain.",
    claim_code: "Code under the panel",
    claim_province: "Province where you bought it (optional)",
    claim_no_province: "— rather not say —",
    claim_send: "Claim my purchase",
    claim_done: "Claimed: you are the buyer",
    claim_done_detail: "This stamp now belongs to your pack. Anyone who scans it again will be told it has a buyer.",
    claim_before: "This stamp was claimed before",
    claim_wrong: "Not the right code",
    claim_wrong_detail: "Check the digits under the panel. Tries left:",
    claim_locked: "Stamp locked",
    claim_locked_detail: "Too many wrong codes. Ask the producer to unlock it.",
    busy: "This stamp could not be checked right now",
    busy_detail: "The service is busy or under maintenance; this scan was not recorded. Please scan again in a few minutes.",
    limited: "Too many scans from your network",
    limited_detail: "This scan was not recorded. Please wait a minute and scan again.",
    scan_again: "Scan again",
    other_language: "Tiếng Việt",
    vi: false,
};

impl Strings {
    /// Headline and one sentence for each verdict.
    pub fn verdict(&self, v: Verdict) -> (&'static str, &'static str) {
        if self.vi {
            match v {
                Verdict::Genuine => (
                    "Tem chính hãng",
                    "Mã được ký bởi tem và có trong sổ đăng ký.",
                ),
                Verdict::Recalled => (
                    "Sản phẩm bị thu hồi",
                    "Không sử dụng sản phẩm này. Xem thông báo bên dưới.",
                ),
                Verdict::Voided => (
                    "Tem đã bị hủy",
                    "Tem này đã bị nhà sản xuất hủy, không được dán trên sản phẩm.",
                ),
                Verdict::Expired => (
                    "Sản phẩm đã hết hạn",
                    "Tem thật, nhưng sản phẩm đã quá hạn sử dụng.",
                ),
                Verdict::Claimed => (
                    "Tem đã được người mua xác nhận",
                    "Một người mua đã nhập mã cào của tem này. Nếu bạn vừa mua gói hàng này, tem của nó nhiều khả năng là bản sao.",
                ),
                Verdict::Sold => (
                    "Tem chính hãng, đã bán",
                    "Cửa hàng đã ghi nhận bán gói hàng mang tem này. Nếu bạn mua ở nơi khác, tem có thể là bản sao.",
                ),
                Verdict::NotPrinted => (
                    "Tem đáng ngờ",
                    "Tem này chưa từng được in ra. Hãy báo cho cơ quan quản lý.",
                ),
                Verdict::UnknownSerial => (
                    "Không tìm thấy tem",
                    "Mã không có trong sổ đăng ký. Có thể là hàng giả.",
                ),
                Verdict::Forged => (
                    "Tem giả",
                    "Chữ ký của mã không hợp lệ. Đây không phải tem thật.",
                ),
                Verdict::UnknownKey => (
                    "Không xác thực được",
                    "Mã không được ký bằng khóa nào của tem. Có thể là hàng giả.",
                ),
                Verdict::RevokedKey => (
                    "Tem không còn tin cậy",
                    "Mã được ký bằng khóa đã bị thu hồi.",
                ),
                Verdict::Malformed => (
                    "Mã không hợp lệ",
                    "Đây không phải mã tem truy xuất nguồn gốc.",
                ),
            }
        } else {
            match v {
                Verdict::Genuine => ("Genuine stamp", "The code is signed by tem and registered."),
                Verdict::Recalled => (
                    "Product recalled",
                    "Do not use this product. See the notice below.",
                ),
                Verdict::Voided => (
                    "Stamp voided",
                    "The producer withdrew this stamp; it should not be on a product.",
                ),
                Verdict::Expired => (
                    "Product expired",
                    "The stamp is genuine, but the product is past its date.",
                ),
                Verdict::Claimed => (
                    "Stamp already claimed",
                    "A buyer claimed this stamp with the code under its panel. If you have just bought this pack, its stamp is probably a copy.",
                ),
                Verdict::Sold => (
                    "Genuine stamp, sold",
                    "A shop recorded selling the pack that carries this stamp. If you bought it somewhere else, its stamp may be a copy.",
                ),
                Verdict::NotPrinted => (
                    "Suspicious stamp",
                    "This stamp was never printed. Please tell the inspectors.",
                ),
                Verdict::UnknownSerial => (
                    "Stamp not found",
                    "The code is not in the registry. The product may be fake.",
                ),
                Verdict::Forged => (
                    "Forged stamp",
                    "The code's signature is invalid. This is not a real stamp.",
                ),
                Verdict::UnknownKey => (
                    "Cannot verify",
                    "The code is not signed by any tem key. The product may be fake.",
                ),
                Verdict::RevokedKey => ("Untrusted stamp", "The code is signed by a revoked key."),
                Verdict::Malformed => ("Invalid code", "This is not a traceability stamp code."),
            }
        }
    }

    pub fn repeat_warning(&self, count: u64) -> String {
        if self.vi {
            format!(
                "Cảnh báo: tem này đã được quét {count} lần, từ nhiều thiết bị hoặc trong thời gian ngắn. Tem có thể đã bị sao chép; hãy kiểm tra bao bì và nơi bán."
            )
        } else {
            format!(
                "Warning: this stamp has been scanned {count} times, from several devices or in a short time. It may have been copied; check the package and the seller."
            )
        }
    }

    /// A claim stamp scanned often but not claimed yet: the claim code
    /// settles it.
    pub fn claim_to_check(&self, count: u64) -> String {
        if self.vi {
            format!(
                "Tem này đã được quét {count} lần. Nếu bạn vừa mua, hãy cào lớp phủ và nhập mã bên dưới: mã đúng xác nhận gói hàng của bạn là hàng thật."
            )
        } else {
            format!(
                "This stamp has been scanned {count} times. If you have just bought this pack, scratch the panel and enter the code below: a right code proves your pack genuine."
            )
        }
    }

    /// The buyer scanning the pack they claimed, from the same phone.
    pub fn claimed_here(&self) -> (&'static str, &'static str) {
        if self.vi {
            (
                "Bạn đã xác nhận mua gói hàng này",
                "Mã cào bạn nhập đã xác nhận tem này: gói hàng của bạn là hàng thật.",
            )
        } else {
            (
                "You claimed this pack",
                "The code you entered claimed this stamp: your pack is genuine.",
            )
        }
    }

    /// When the stamp was claimed, for the person now holding the pack.
    pub fn claimed_on(&self, when: &str, province: Option<&str>) -> String {
        match (self.vi, province) {
            (true, Some(p)) => {
                format!("Tem này đã được một người mua xác nhận lúc {when} (ở {p}).")
            }
            (true, None) => format!("Tem này đã được một người mua xác nhận lúc {when}."),
            (false, Some(p)) => format!("This stamp was claimed by a buyer on {when} (in {p})."),
            (false, None) => format!("This stamp was claimed by a buyer on {when}."),
        }
    }

    /// When and where the pack was sold at the till.
    pub fn sold_on(&self, when: &str, shop: &str) -> String {
        if self.vi {
            format!("Đã bán lúc {when} tại {shop}.")
        } else {
            format!("Sold on {when} by {shop}.")
        }
    }

    pub fn history(&self, count: u64, first: Option<&str>) -> String {
        match (self.vi, count, first) {
            (true, 0 | 1, _) => "Đây là lần quét đầu tiên.".into(),
            (true, n, Some(f)) => format!("Đã quét {n} lần, lần đầu lúc {f}."),
            (true, n, None) => format!("Đã quét {n} lần."),
            (false, 0 | 1, _) => "This is the first scan.".into(),
            (false, n, Some(f)) => format!("Scanned {n} times, first on {f}."),
            (false, n, None) => format!("Scanned {n} times."),
        }
    }
}
