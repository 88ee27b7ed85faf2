//! The `<EChart>` component: creates its ECharts instance once, updates it in place on every change,
//! resizes it with its cell and disposes of it on unmount. A theme change is the one time it is
//! created again (ECharts themes are fixed at init). A chart out of view (scrolled away, or the tab
//! hidden) is not updated; it catches up with the newest options when it comes back. A time chart
//! given `on_select` lets a person drag across it to pick a span (ECharts' brush).

use super::chart_option::Chart;
use crate::shared::store::Millis;
use leptos::prelude::*;

/// Whether charts are drawn for a dark page; provided by the dashboard, read by every chart.
#[derive(Clone, Copy)]
pub struct DarkCharts(pub RwSignal<bool>);

/// Whether the page is visible (not a background tab); provided by the dashboard.
#[derive(Clone, Copy)]
pub struct PageVisible(pub RwSignal<bool>);

#[component]
pub fn EChart(
    /// DOM id of the chart's container, unique on the page.
    id: String,
    /// The chart's options; every change is applied with setOption, never by re-creating the chart.
    chart: Signal<Chart>,
    /// Called with the span (ms) a person drags across a time chart.
    #[prop(optional)]
    on_select: Option<Callback<(Millis, Millis)>>,
) -> impl IntoView {
    browser::mount(
        id.clone(),
        chart,
        use_context::<DarkCharts>().map(|d| d.0),
        use_context::<PageVisible>().map(|v| v.0),
        on_select,
    );
    view! { <div id=id class="chart" data-testid="chart"></div> }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::super::chart_option::Chart;
    use super::Millis;
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        /// An ECharts instance (the global `echarts`, served from our own origin).
        type Instance;
        #[wasm_bindgen(js_namespace = echarts, js_name = init)]
        fn init(element: &web_sys::Element, theme: &str) -> Instance;
        #[wasm_bindgen(method)]
        fn resize(this: &Instance);
        #[wasm_bindgen(method)]
        fn dispose(this: &Instance);
        #[wasm_bindgen(method)]
        fn on(this: &Instance, event: &str, handler: &js_sys::Function);
        #[wasm_bindgen(method, js_name = dispatchAction)]
        fn dispatch_action(this: &Instance, action: &JsValue);
        #[wasm_bindgen(method, js_name = setOption)]
        fn set_option(this: &Instance, option: &JsValue);
        #[wasm_bindgen(method, js_name = setOption)]
        fn set_option_with(this: &Instance, option: &JsValue, settings: &JsValue);
    }

    /// Series and value axes are replaced, not merged, on every update: a series or an axis that
    /// went away (a temperature with nothing to draw) must not linger from the last one.
    const REPLACE: &str = r#"{"replaceMerge":["series","yAxis"]}"#;

    /// A tooltip's value formatter, made from a series' `{value} unit` template.
    type ValueFormatter = Closure<dyn Fn(JsValue) -> JsValue>;

    /// A second handle on the same instance, for a callback to own.
    fn same(instance: &Instance) -> Instance {
        let value: &JsValue = instance.as_ref();
        value.clone().unchecked_into()
    }

    fn parse(json: &str) -> JsValue {
        js_sys::JSON::parse(json).unwrap_or(JsValue::NULL)
    }

    fn get(value: &JsValue, key: &str) -> JsValue {
        js_sys::Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    }

    fn set(target: &JsValue, key: &str, value: &JsValue) {
        let _ = js_sys::Reflect::set(target, &JsValue::from_str(key), value);
    }

    /// The items of an option that is one object or an array of them.
    fn each(value: JsValue) -> Vec<JsValue> {
        if value.is_undefined() || value.is_null() {
            Vec::new()
        } else if js_sys::Array::is_array(&value) {
            js_sys::Array::from(&value).iter().collect()
        } else {
            vec![value]
        }
    }

    /// A drag across the plot selects a span of the x axis (not a box): ECharts' brush, on from
    /// the start, without a toolbox button to press first.
    const BRUSH_OPTION: &str = r#"{"brush":{"xAxisIndex":"all","brushType":"lineX","brushMode":"single","outOfBrush":{"colorAlpha":1},"brushStyle":{"borderWidth":1,"color":"rgba(120,140,200,0.2)","borderColor":"rgba(120,140,200,0.8)"}}}"#;
    const BRUSH_CURSOR: &str = r#"{"type":"takeGlobalCursor","key":"brush","brushOption":{"brushType":"lineX","brushMode":"single"}}"#;
    const BRUSH_CLEAR: &str = r#"{"type":"brush","areas":[]}"#;

    struct Mounted {
        echarts: Instance,
        dark: bool,
        /// One formatter per template, kept as long as the chart.
        formatters: std::collections::HashMap<String, ValueFormatter>,
        resize_observer: web_sys::ResizeObserver,
        _on_resize: Closure<dyn FnMut()>,
        view_observer: Option<web_sys::IntersectionObserver>,
        _on_view: Closure<dyn FnMut(js_sys::Array)>,
        _on_brush: Option<Closure<dyn FnMut(JsValue)>>,
    }

    impl Mounted {
        /// Draws `chart`, with what charming cannot say: axis labels that would overlap are
        /// hidden (they thin out with the width), and each series' tooltip value template
        /// becomes a function that reads the value at a sensible precision with its unit.
        fn draw(&mut self, chart: &Chart) {
            let Ok(option) = serde_wasm_bindgen::to_value(chart) else {
                return;
            };
            for axis in ["xAxis", "yAxis"]
                .into_iter()
                .flat_map(|k| each(get(&option, k)))
            {
                let mut label = get(&axis, "axisLabel");
                if !label.is_object() {
                    label = js_sys::Object::new().into();
                    set(&axis, "axisLabel", &label);
                }
                set(&label, "hideOverlap", &JsValue::TRUE);
            }
            for series in each(get(&option, "series")) {
                let tooltip = get(&series, "tooltip");
                let Some(template) = get(&tooltip, "valueFormatter").as_string() else {
                    continue;
                };
                let formatter = self.formatters.entry(template.clone()).or_insert_with(|| {
                    Closure::new(move |value: JsValue| {
                        let shown = value
                            .as_f64()
                            .map_or("–".into(), crate::shared::format::reading);
                        JsValue::from_str(&template.replace("{value}", &shown))
                    })
                });
                set(&tooltip, "valueFormatter", formatter.as_ref());
            }
            self.echarts.set_option_with(&option, &parse(REPLACE));
        }

        fn dispose(self) {
            self.resize_observer.disconnect();
            if let Some(observer) = &self.view_observer {
                observer.disconnect();
            }
            self.echarts.dispose();
        }
    }

    pub fn mount(
        id: String,
        chart: Signal<Chart>,
        dark: Option<RwSignal<bool>>,
        page_visible: Option<RwSignal<bool>>,
        on_select: Option<Callback<(Millis, Millis)>>,
    ) {
        let mounted = StoredValue::new_local(None::<Mounted>);
        // Assumed in view until the observer says otherwise, so the chart is drawn at once.
        let in_view = RwSignal::new(true);
        Effect::new(move |_| {
            // Out of view, the chart's options are not even read, so nothing is built for it.
            if !in_view.get() || !page_visible.is_none_or(|v| v.get()) {
                return;
            }
            let dark = dark.map(|d| d.get()).unwrap_or(false);
            // Read in place: a chart's options are large, and cloning them cost the page its
            // biggest function.
            chart.with(|options| {
                mounted.update_value(|slot| match slot {
                    Some(existing) if existing.dark == dark => existing.draw(options),
                    _ => {
                        if let Some(old) = slot.take() {
                            old.dispose();
                        }
                        *slot = create(&id, options, dark, in_view, on_select);
                    }
                })
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

    fn create(
        id: &str,
        options: &Chart,
        dark: bool,
        in_view: RwSignal<bool>,
        on_select: Option<Callback<(Millis, Millis)>>,
    ) -> Option<Mounted> {
        let element = web_sys::window()?.document()?.get_element_by_id(id)?;
        // ECharts' own dark theme, or its default.
        let echarts = init(&element, if dark { "dark" } else { "" });
        let resized = same(&echarts);
        let on_resize = Closure::<dyn FnMut()>::new(move || resized.resize());
        let resize_observer =
            web_sys::ResizeObserver::new(on_resize.as_ref().unchecked_ref()).ok()?;
        resize_observer.observe(&element);
        // Without IntersectionObserver the chart simply counts as always in view.
        let on_view = Closure::<dyn FnMut(js_sys::Array)>::new(move |entries: js_sys::Array| {
            if let Some(entry) = entries
                .iter()
                .last()
                .and_then(|e| e.dyn_into::<web_sys::IntersectionObserverEntry>().ok())
            {
                in_view.set(entry.is_intersecting());
            }
        });
        let view_observer =
            web_sys::IntersectionObserver::new(on_view.as_ref().unchecked_ref()).ok();
        if let Some(observer) = &view_observer {
            observer.observe(&element);
        }
        // On a touch screen a drag scrolls the page: the brush would take that away.
        let on_brush = on_select
            .filter(|_| fine_pointer())
            .map(|on_select| select_spans(&echarts, on_select));
        let mut mounted = Mounted {
            echarts,
            dark,
            formatters: Default::default(),
            resize_observer,
            _on_resize: on_resize,
            view_observer,
            _on_view: on_view,
            _on_brush: on_brush,
        };
        mounted.draw(options);
        Some(mounted)
    }

    /// Whether the page is used with a mouse or a pen rather than a finger.
    fn fine_pointer() -> bool {
        web_sys::window()
            .and_then(|w| w.match_media("(pointer: fine)").ok().flatten())
            .is_some_and(|query| query.matches())
    }

    /// Turns the brush on and hands each finished drag's span to `on_select`, clearing the
    /// drawn selection (the charts then show that span).
    fn select_spans(
        instance: &Instance,
        on_select: Callback<(Millis, Millis)>,
    ) -> Closure<dyn FnMut(JsValue)> {
        instance.set_option(&parse(BRUSH_OPTION));
        instance.dispatch_action(&parse(BRUSH_CURSOR));
        let cleared = same(instance);
        let on_brush = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            let range = get(&get(&get(&event, "areas"), "0"), "coordRange");
            let bound = |i: u32| js_sys::Reflect::get_u32(&range, i).ok()?.as_f64();
            if let (Some(from), Some(to)) = (bound(0), bound(1)) {
                cleared.dispatch_action(&parse(BRUSH_CLEAR));
                on_select.run((from as Millis, to as Millis));
            }
        });
        instance.on("brushEnd", on_brush.as_ref().unchecked_ref());
        on_brush
    }
}

/// On the server a chart is only its container: ECharts draws in the browser.
#[cfg(not(feature = "hydrate"))]
mod browser {
    use super::super::chart_option::Chart;
    use leptos::prelude::*;

    pub fn mount(
        _id: String,
        _chart: Signal<Chart>,
        _dark: Option<RwSignal<bool>>,
        _page_visible: Option<RwSignal<bool>>,
        _on_select: Option<Callback<(super::Millis, super::Millis)>>,
    ) {
    }
}
