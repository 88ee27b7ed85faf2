//! The few DOM calls the parts drawn without typed views (the process table, a GPU card's detail)
//! share: making elements and writing text only when it changed.
#![cfg(feature = "hydrate")]

use web_sys::{Document, Element};

/// The page's document; each drawing part adds its own methods.
pub struct Dom(pub Document);

impl Dom {
    /// The page's document, when there is a window.
    pub fn of_window() -> Option<Dom> {
        web_sys::window().and_then(|w| w.document()).map(Dom)
    }

    pub fn element(&self, tag: &str, class: &str) -> Element {
        let element = self.0.create_element(tag).expect("a valid tag name");
        if !class.is_empty() {
            element.set_class_name(class);
        }
        element
    }

    pub fn child(&self, parent: &Element, tag: &str, class: &str) -> Element {
        let element = self.element(tag, class);
        let _ = parent.append_child(&element);
        element
    }
}

/// The element's children, first to last.
pub fn children(parent: &Element) -> impl Iterator<Item = Element> {
    std::iter::successors(parent.first_element_child(), Element::next_element_sibling)
}

/// Writes text only when it changed, so an unchanged node (and a selection in it) is left be.
pub fn set_text(element: &Element, text: &str) {
    if element.text_content().as_deref() != Some(text) {
        element.set_text_content(Some(text));
    }
}
