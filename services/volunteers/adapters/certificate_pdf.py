"""The certificate as a PDF: Chinese text in an embedded TrueType font, a QR code of the
verification address. Rendering only: the facts come from certificates.Certificate.

The font is Debian's WenQuanYi Zen Hei (fonts-wqy-zenhei, installed by
`deploy/local/infra.sh install`), embedded so any reader renders it and `pdftotext` reads
it back; without it, reportlab's built-in CID font STSong-Light is used.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from services.volunteers.domain.certificates import Certificate

FONT_FILE = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
QR_SIZE = 32 * mm
ROWS_PER_PAGE = 28


@cache
def font() -> str:
    """The registered font's name."""
    if FONT_FILE.is_file():
        pdfmetrics.registerFont(TTFont("WenQuanYi", str(FONT_FILE), subfontIndex=0))
        return "WenQuanYi"
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def render(certificate: Certificate, verify_url: str) -> bytes:
    out = io.BytesIO()
    c = Canvas(out, pagesize=A4, invariant=True)
    c.setTitle(f"志愿服务记录证明 {certificate.serial}")
    width, height = A4
    name = font()
    left = 20 * mm
    y = height - 25 * mm

    def line(text: str, size: float = 11, gap: float = 7 * mm, x: float = left) -> None:
        nonlocal y
        c.setFont(name, size)
        c.drawString(x, y, text)
        y -= gap

    c.setFont(name, 20)
    c.drawCentredString(width / 2, y, "志愿服务记录证明")
    y -= 14 * mm
    line(f"证明编号：{certificate.serial}")
    line(f"志愿者：{certificate.volunteer_name}    联系电话：{certificate.masked_phone}")
    period = f"{certificate.period_from.isoformat()} 至 {certificate.period_to.isoformat()}"
    line(f"服务期间：{period}")
    line(f"兹证明该志愿者在上述期间于{certificate.issuer_name}参加志愿服务，记录如下：")
    y -= 2 * mm
    c.setFont(name, 10)
    c.drawString(left, y, "日期")
    c.drawString(left + 30 * mm, y, "服务内容")
    c.drawRightString(width - left, y, "时长（小时）")
    y -= 7 * mm
    for i, service in enumerate(certificate.services):
        if i and i % ROWS_PER_PAGE == 0:
            c.showPage()
            y = height - 25 * mm
        c.setFont(name, 10)
        c.drawString(left, y, service.served_on.isoformat())
        c.drawString(left + 30 * mm, y, service.content[:36])
        c.drawRightString(width - left, y, f"{service.hours:g}")
        y -= 6 * mm
    y -= 2 * mm
    line(f"累计服务时长：{certificate.total_hours:g} 小时", 12)
    line(f"出具单位：{certificate.issuer_name}（{certificate.issuer_id}）")
    line(f"出具日期：{certificate.issued_on.isoformat()}")
    if certificate.status == "revoked":
        line(f"本证明已撤销：{certificate.revoked_reason or ''}", 12)
    line("本证明仅用于证明志愿服务经历，不得用于商业用途。", 9, 5 * mm)
    line(f"文件摘要 SHA-256：{certificate.document_hash}", 8, 5 * mm)
    line(f"核验地址：{verify_url}", 8, 5 * mm)

    qr = QrCodeWidget(verify_url)
    x0, y0, x1, y1 = qr.getBounds()
    drawing = Drawing(
        QR_SIZE, QR_SIZE, transform=[QR_SIZE / (x1 - x0), 0, 0, QR_SIZE / (y1 - y0), 0, 0]
    )
    drawing.add(qr)
    renderPDF.draw(drawing, c, width - left - QR_SIZE, 20 * mm)
    c.showPage()
    c.save()
    return out.getvalue()
