//! The `<EChart>` component: creates its ECharts instance once, updates it in place on every change,
//! resizes it with its cell and disposes of it on unmount.

use charming::Chart;
use leptos::prelude::*;

#[component]
pub fn EChart(
    /// DOM id of the chart's container, unique on the page.
    id: String,
    /// The chart's options; every change is applied with setOption, never by re-creating the chart.
    chart: Signal<Chart>,
    #[prop(optional)] class: &'static str,
) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    browser::mount(id.clone(), chart);
    #[cfg(not(feature = "hydrate"))]
    let _ = chart;
    view! { <div id=id class=format!("chart {class}") data-testid="chart"></div> }
}

#[cfg(feature = "hydrate")]
mod browser {
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
        _observer: web_sys::ResizeObserver,
        _on_resize: Closure<dyn FnMut()>,
    }

    pub fn mount(id: String, chart: Signal<Chart>) {
        let mounted = StoredValue::new_local(None::<Mounted>);
        Effect::new(move |_| {
            let options = chart.get();
            mounted.update_value(|slot| match slot {
                Some(existing) => WasmRenderer::update(&existing.echarts, &options),
                None => *slot = create(&id, &options),
            });
        });
        on_cleanup(move || {
            mounted.update_value(|slot| {
                if let Some(existing) = slot.take() {
                    existing._observer.disconnect();
                    existing.echarts.unchecked_ref::<Disposable>().dispose();
                }
            })
        });
    }

    fn create(id: &str, options: &Chart) -> Option<Mounted> {
        let echarts = WasmRenderer::new_opt(None, None).render(id, options).ok()?;
        let element = web_sys::window()?.document()?.get_element_by_id(id)?;
        let resized: Echarts = echarts.clone().unchecked_into();
        let on_resize = Closure::<dyn FnMut()>::new(move || resized.resize(JsValue::UNDEFINED));
        let observer = web_sys::ResizeObserver::new(on_resize.as_ref().unchecked_ref()).ok()?;
        observer.observe(&element);
        Some(Mounted {
            echarts,
            _observer: observer,
            _on_resize: on_resize,
        })
    }
}
