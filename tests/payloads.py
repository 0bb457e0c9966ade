"""Hostile texts for issue 41, written for this project: what a scraped problem or a remote model's reply may
hold to run script in a reader's browser or reach their terminal. Each row: (class, text)."""

HTML_PAYLOADS = [
    ("text_img", r"Find $\text{<img src=x onerror=document.title='pwned'>}$ now."),
    ("text_script", r"$$\text{<script>document.title='pwned'</script>}$$"),
    ("close_math", r"$\text{</math><img src=x onerror=document.title='pwned'>}$"),
    ("svg_onload", r"\(\text{<svg onload=document.title='pwned'>}\)"),
    ("iframe_srcdoc", r"$\text{<iframe srcdoc='<script>parent.document.title=1</script>'></iframe>}$"),
    ("mathrm", r"$\mathrm{<img src=x onerror=document.title='pwned'>}$"),
    ("mbox", r"$\mbox{<b onmouseover=document.title='pwned'>x</b>}$"),
    ("href", r"$\href{javascript:document.title='pwned'}{click}$"),
    ("style", r"$\style{background:url(javascript:alert(1))}{x}$"),
    ("class", r"$\class{evil}{x}$"),
    ("entities", r"$\text{&lt;img src=x onerror=document.title='pwned'&gt;}$"),
    ("raw_html", "<img src=x onerror=\"document.title='pwned'\"> and <script>document.title='pwned'</script>"),
    ("md_js_link", "[click](javascript:document.title='pwned') and ![x](javascript:alert(1))"),
    ("md_data_link", "[click](data:text/html,<script>alert(1)</script>)"),
    ("md_remote_image", "![tracker](https://example.invalid/pixel.png)"),
    ("boxed_text", r"\boxed{\text{<img src=x onerror=document.title='pwned'>}}"),
    ("foreign_object", r"$\text{<svg><foreignObject><img src=x onerror=document.title='pwned'></foreignObject></svg>}$"),
    ("style_tag", r"$\text{<style>body{display:none}</style>}$"),
    ("nested_math", r"$\text{<math><mtext><img src=x onerror=document.title='pwned'></mtext></math>}$"),
]

TERMINAL_PAYLOADS = [
    ("rich_close", "What is [/bold] 2 + 2?"),
    ("rich_open", "Compute [red]x[/red] and [link=https://example.invalid]here[/link]."),
    ("osc_title", "Find x.\x1b]0;pwned\x07 Then y."),
    ("sgr_colour", "Find \x1b[31mred\x1b[0m x."),
    ("cursor_moves", "Erase\x1b[2J\x1b[H this."),
    ("bell_and_backspace", "Ring\x07 and back\x08space."),
    ("c1_csi", "Eight-bit \x9b31m CSI."),
]
