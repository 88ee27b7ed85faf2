//! The ECharts option every dashboard chart is: charming's parts (axes, line and bar series,
//! legend, tooltip, grid) in a container that holds only those. charming's own `Chart` has a
//! field for every component and chart type ECharts knows (radar, polar, 3D axes, trees, gauges,
//! …) and serializes through all of them, so the dashboard's WASM carried each one's serializer
//! although it draws lines and bars only; this container is what keeps the WASM within budget.
//! Its builder methods are named as charming's, and its JSON is the same.

use charming::component::{Axis, Grid, Legend};
use charming::element::{Color, Tooltip};
use charming::series::{Bar, Line};
use serde::{Serialize, Serializer};

#[derive(Serialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct Chart {
    #[serde(skip_serializing_if = "Option::is_none")]
    background_color: Option<Color>,
    #[serde(skip_serializing_if = "Option::is_none")]
    animation: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tooltip: Option<Tooltip>,
    #[serde(skip_serializing_if = "Option::is_none")]
    legend: Option<Legend>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    grid: Vec<Grid>,
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "one_or_many")]
    x_axis: Vec<Axis>,
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "one_or_many")]
    y_axis: Vec<Axis>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    series: Vec<Series>,
}

/// The chart types the dashboard draws.
#[derive(Serialize, Clone, Debug)]
#[serde(untagged)]
pub enum Series {
    // Boxed: a line's options are far larger than a bar's.
    Line(Box<Line>),
    Bar(Box<Bar>),
}

impl From<Line> for Series {
    fn from(line: Line) -> Self {
        Series::Line(Box::new(line))
    }
}

impl From<Bar> for Series {
    fn from(bar: Bar) -> Self {
        Series::Bar(Box::new(bar))
    }
}

/// One axis as an object, several as a list: as charming writes them.
fn one_or_many<S: Serializer>(axes: &[Axis], serializer: S) -> Result<S::Ok, S::Error> {
    match axes {
        [one] => one.serialize(serializer),
        many => many.serialize(serializer),
    }
}

impl Chart {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn background_color(mut self, color: impl Into<Color>) -> Self {
        self.background_color = Some(color.into());
        self
    }

    pub fn animation(mut self, on: bool) -> Self {
        self.animation = Some(on);
        self
    }

    pub fn tooltip(mut self, tooltip: Tooltip) -> Self {
        self.tooltip = Some(tooltip);
        self
    }

    pub fn legend(mut self, legend: Legend) -> Self {
        self.legend = Some(legend);
        self
    }

    pub fn grid(mut self, grid: Grid) -> Self {
        self.grid.push(grid);
        self
    }

    pub fn x_axis(mut self, axis: Axis) -> Self {
        self.x_axis.push(axis);
        self
    }

    pub fn y_axis(mut self, axis: Axis) -> Self {
        self.y_axis.push(axis);
        self
    }

    pub fn series(mut self, series: impl Into<Series>) -> Self {
        self.series.push(series.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use charming::element::AxisType;
    use serde_json::json;

    #[test]
    fn writes_the_json_charming_writes() {
        let ours = Chart::new()
            .background_color("transparent")
            .animation(false)
            .legend(Legend::new().top(4))
            .grid(Grid::new().left(48))
            .x_axis(Axis::new().type_(AxisType::Time))
            .y_axis(Axis::new().type_(AxisType::Value))
            .y_axis(Axis::new().type_(AxisType::Value).show(false))
            .series(Line::new().name("GPU"))
            .series(Bar::new().name("core"));
        let theirs = charming::Chart::new()
            .background_color("transparent")
            .animation(false)
            .legend(Legend::new().top(4))
            .grid(Grid::new().left(48))
            .x_axis(Axis::new().type_(AxisType::Time))
            .y_axis(Axis::new().type_(AxisType::Value))
            .y_axis(Axis::new().type_(AxisType::Value).show(false))
            .series(Line::new().name("GPU"))
            .series(Bar::new().name("core"));
        assert_eq!(
            serde_json::to_value(&ours).unwrap(),
            serde_json::to_value(&theirs).unwrap()
        );
        assert_eq!(serde_json::to_value(Chart::new()).unwrap(), json!({}));
    }
}
