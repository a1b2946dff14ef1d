//! The links a Digital Link URI resolves to, from what tem knows about it:
//! tem's own pages for the product, its lot and the item, each in
//! Vietnamese and English, typed with the GS1 Web Vocabulary. The same list
//! makes the `Link` header, the RFC 9264 link set and the redirect.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::super::scan::Lang;
use crate::domain::digital_link::DigitalLink;
use crate::service::resolver::Resolution;

/// The GS1 Web Vocabulary's namespace, as GS1's model link set writes it.
pub(super) const VOC: &str = "https://ref.gs1.org/voc/";

/// The link types tem answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkType {
    /// The product information page (the default).
    Pip,
    /// The OCOP rating and certifications.
    CertificationInfo,
    /// Where the lot comes from: its stages.
    Traceability,
    /// The recall notice, only while a recall is in force.
    RecallStatus,
    /// What tem says of an item's identifier: whether it issued that serial
    /// for this product, and the stamp's state (only for serials it did).
    VerificationService,
}

impl LinkType {
    /// Every type, in the order a link set lists them.
    pub(super) const ALL: [LinkType; 5] = [
        LinkType::Pip,
        LinkType::CertificationInfo,
        LinkType::Traceability,
        LinkType::RecallStatus,
        LinkType::VerificationService,
    ];

    fn name(self) -> &'static str {
        match self {
            LinkType::Pip => "pip",
            LinkType::CertificationInfo => "certificationInfo",
            LinkType::Traceability => "traceability",
            LinkType::RecallStatus => "recallStatus",
            LinkType::VerificationService => "verificationService",
        }
    }

    /// The full URI: `https://ref.gs1.org/voc/pip`.
    pub(super) fn uri(self) -> String {
        format!("{VOC}{}", self.name())
    }

    /// A `linkType` as clients write it: `gs1:pip`, or the full URI in
    /// either of the vocabulary's namespaces.
    pub(super) fn parse(s: &str) -> Option<LinkType> {
        let name = ["gs1:", VOC, "https://gs1.org/voc/", "http://gs1.org/voc/"]
            .iter()
            .find_map(|p| s.strip_prefix(p))?;
        LinkType::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// One link: a page of tem's, its type, language and title.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub link_type: LinkType,
    pub href: String,
    pub lang: Lang,
    pub title: &'static str,
}

/// What a link is called, per type and level, in each language.
fn title(t: LinkType, level: &str, lang: Lang) -> &'static str {
    let vi = lang == Lang::Vi;
    match (t, level) {
        (LinkType::Pip, "serial") if vi => "Sản phẩm mang mã này (chỉ là mã định danh)",
        (LinkType::Pip, "serial") => "The item with this identifier (identifier only)",
        (LinkType::Pip, "lot") if vi => "Thông tin lô hàng",
        (LinkType::Pip, "lot") => "About this lot",
        (LinkType::Pip, _) if vi => "Thông tin sản phẩm",
        (LinkType::Pip, _) => "Product information",
        (LinkType::CertificationInfo, _) if vi => "Xếp hạng OCOP và chứng nhận",
        (LinkType::CertificationInfo, _) => "OCOP rating and certifications",
        (LinkType::Traceability, _) if vi => "Nguồn gốc lô hàng: các công đoạn",
        (LinkType::Traceability, _) => "Where this lot comes from: its stages",
        (LinkType::RecallStatus, _) if vi => "Thông báo thu hồi lô hàng",
        (LinkType::RecallStatus, _) => "Recall notice for this lot",
        (LinkType::VerificationService, _) if vi => "Kiểm tra mã định danh với tem",
        (LinkType::VerificationService, _) => "Check this identifier with tem",
    }
}

/// Every link for `res`, deepest level first (the item, its lot, the
/// product), Vietnamese before English within a level.
pub(crate) fn all(res: &Resolution, base: &str) -> Vec<Link> {
    let page = |dl: &DigitalLink, lang: Lang, anchor: &str| {
        let q = if lang == Lang::En { "?lang=en" } else { "" };
        format!("{base}/product{}{q}{anchor}", dl.path())
    };
    let mut out = Vec::new();
    let mut add = |t: LinkType, level: &'static str, dl: &DigitalLink, anchor: &str| {
        for lang in [Lang::Vi, Lang::En] {
            out.push(Link {
                link_type: t,
                href: page(dl, lang, anchor),
                lang,
                title: title(t, level, lang),
            });
        }
    };
    let gtin = DigitalLink::new(res.link.gtin(), None, None).ok();
    if res.link.serial().is_some() {
        add(LinkType::Pip, "serial", &res.link, "");
        if res.stamp_known {
            add(
                LinkType::VerificationService,
                "serial",
                &res.link,
                "#verification",
            );
        }
    }
    // The lot's links: the URI's lot, or the lot of the stamp its serial
    // names (when that lot code can be written in a Digital Link URI).
    let lot = res
        .batch
        .as_ref()
        .and_then(|b| DigitalLink::new(res.link.gtin(), Some(&b.lot_code), None).ok());
    if let Some(lot) = &lot {
        add(LinkType::Pip, "lot", lot, "");
        add(LinkType::Traceability, "lot", lot, "#stages");
        if res.recall.is_some() {
            add(LinkType::RecallStatus, "lot", lot, "#recall");
        }
    }
    if let Some(gtin) = &gtin {
        add(LinkType::Pip, "gtin", gtin, "");
        if res.product.ocop.is_some() || !res.product.certifications.is_empty() {
            add(LinkType::CertificationInfo, "gtin", gtin, "#certifications");
        }
    }
    out
}

/// The link of type `t` for a reader of `lang`: the deepest level's.
pub(super) fn best(links: &[Link], t: LinkType, lang: Lang) -> Option<&Link> {
    links
        .iter()
        .find(|l| l.link_type == t && l.lang == lang)
        .or_else(|| links.iter().find(|l| l.link_type == t))
}

/// The `Link` header: for each type the link a request in `lang` is sent
/// to, then the link set. Titles in ASCII English (`title`), the
/// Vietnamese one as RFC 8187 `title*`.
pub(super) fn header(links: &[Link], lang: Lang, anchor: &str) -> String {
    let mut parts: Vec<String> = LinkType::ALL
        .iter()
        .filter_map(|t| best(links, *t, lang))
        .map(|l| {
            let english = links
                .iter()
                .find(|o| o.link_type == l.link_type && o.lang == Lang::En)
                .map_or(l.title, |o| o.title);
            let mut s = format!(
                "<{}>; rel=\"{}\"; type=\"text/html\"; hreflang=\"{}\"; title=\"{}\"",
                l.href,
                l.link_type.uri(),
                l.lang.code(),
                english
            );
            if l.lang == Lang::Vi {
                let encoded: String = percent_encoding::utf8_percent_encode(
                    l.title,
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .collect();
                s.push_str(&format!("; title*=UTF-8''{encoded}"));
            }
            s
        })
        .collect();
    parts.push(format!(
        "<{anchor}?linkType=all>; rel=\"linkset\"; type=\"application/linkset+json\"; title=\"All links for this identifier\""
    ));
    parts.join(", ")
}

/// The RFC 9264 link set: one context, the URI itself (uncompressed), with
/// every link of every level and the default link. Written straight from
/// the links (no intermediate JSON tree: resolvers are asked often).
pub(super) fn linkset(
    res: &Resolution,
    links: &[Link],
    anchor: &str,
    lang: Lang,
) -> serde_json::Result<Vec<u8>> {
    let set = LinkSet {
        linkset: [Context {
            anchor,
            description: &res.product.name,
            default: best(links, LinkType::Pip, lang),
            links,
        }],
    };
    serde_json::to_vec(&set)
}

#[derive(serde::Serialize)]
struct LinkSet<'a> {
    linkset: [Context<'a>; 1],
}

/// The link set's one context object.
struct Context<'a> {
    anchor: &'a str,
    description: &'a str,
    default: Option<&'a Link>,
    links: &'a [Link],
}

impl Serialize for Context<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("anchor", self.anchor)?;
        map.serialize_entry("itemDescription", self.description)?;
        if let Some(default) = self.default {
            map.serialize_entry(&format!("{VOC}defaultLink"), &[Target(default)])?;
        }
        for t in LinkType::ALL {
            let of_type: Vec<Target> = self
                .links
                .iter()
                .filter(|l| l.link_type == t)
                .map(Target)
                .collect();
            if !of_type.is_empty() {
                map.serialize_entry(&t.uri(), &of_type)?;
            }
        }
        map.end()
    }
}

/// One link as a link set's target object.
struct Target<'a>(&'a Link);

impl Serialize for Target<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(4))?;
        map.serialize_entry("href", &self.0.href)?;
        map.serialize_entry("title", self.0.title)?;
        map.serialize_entry("type", "text/html")?;
        map.serialize_entry("hreflang", &[self.0.lang.code()])?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_types_are_read_in_every_form_clients_write_them() {
        for s in [
            "gs1:pip",
            "https://ref.gs1.org/voc/pip",
            "https://gs1.org/voc/pip",
            "http://gs1.org/voc/pip",
        ] {
            assert_eq!(LinkType::parse(s), Some(LinkType::Pip), "{s}");
        }
        assert_eq!(
            LinkType::parse("gs1:recallStatus"),
            Some(LinkType::RecallStatus)
        );
        assert_eq!(LinkType::parse("pip"), None);
        assert_eq!(LinkType::parse("gs1:promotion"), None);
    }
}
