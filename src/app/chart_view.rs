//! The `<EChart>` component: creates its ECharts instance once, updates it in place on every change,
//! resizes it with its cell and disposes of it on unmount. A theme change is the one time it is
//! created again (ECharts themes are fixed at init).

use charming::Chart;
use leptos::prelude::*;

/// Whether charts are drawn for a dark page; provided by the dashboard, read by every chart.
#[derive(Clone, Copy)]
pub struct DarkCharts(pub RwSignal<bool>);

#[component]
pub fn EChart(
    /// DOM id of the chart's container, unique on the page.
    id: String,
    /// The chart's options; every change is applied with setOption, never by re-creating the chart.
    chart: Signal<Chart>,
) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    browser::mount(id.clone(), chart, use_context::<DarkCharts>().map(|d| d.0));
    #[cfg(not(feature = "hydrate"))]
    let _ = chart;
    view! { <div id=id class="chart" data-testid="chart"></div> }
}

#[cfg(feature = "hydrate")]
mod browser {
    use charming::theme::Theme;
    use charming::{Chart, Echarts, WasmRenderer};
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        /// The same ECharts instance, seen through the one method charming does not bind.
        type Disposable;
        #[wasm_bindgen(method)]
        fn dispose(this: &Disposable);
    }

    struct Mounted {
        echarts: Echarts,
        dark: bool,
        observer: web_sys::ResizeObserver,
        _on_resize: Closure<dyn FnMut()>,
    }

    impl Mounted {
        fn dispose(self) {
            self.observer.disconnect();
            self.echarts.unchecked_ref::<Disposable>().dispose();
        }
    }

    pub fn mount(id: String, chart: Signal<Chart>, dark: Option<RwSignal<bool>>) {
        let mounted = StoredValue::new_local(None::<Mounted>);
        Effect::new(move |_| {
            let options = chart.get();
            let dark = dark.map(|d| d.get()).unwrap_or(false);
            mounted.update_value(|slot| match slot {
                Some(existing) if existing.dark == dark => {
                    WasmRenderer::update(&existing.echarts, &options)
                }
                _ => {
                    if let Some(old) = slot.take() {
                        old.dispose();
                    }
                    *slot = create(&id, &options, dark);
                }
            });
        });
        on_cleanup(move || {
            mounted.update_value(|slot| {
                if let Some(existing) = slot.take() {
                    existing.dispose();
                }
            })
        });
    }

    fn create(id: &str, options: &Chart, dark: bool) -> Option<Mounted> {
        let theme = if dark { Theme::Dark } else { Theme::Default };
        let echarts = WasmRenderer::new_opt(None, None)
            .theme(theme)
            .render(id, options)
            .ok()?;
        let element = web_sys::window()?.document()?.get_element_by_id(id)?;
        let resized: Echarts = echarts.clone().unchecked_into();
        let on_resize = Closure::<dyn FnMut()>::new(move || resized.resize(JsValue::UNDEFINED));
        let observer = web_sys::ResizeObserver::new(on_resize.as_ref().unchecked_ref()).ok()?;
        observer.observe(&element);
        Some(Mounted {
            echarts,
            dark,
            observer,
            _on_resize: on_resize,
        })
    }
}
