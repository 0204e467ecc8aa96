"""The Qualys adapter: WAS v3.0 and KnowledgeBase calls over HTTP, decoded from XML.

Never imports the store. Public surface: QualysClient, Page, KbResult, Criterion, CallStats.
"""

from connector.qualys.client import KbResult, QualysClient
from connector.qualys.pages import Page
from connector.qualys.requests import Criterion
from connector.qualys.stats import CallStats

__all__ = ["CallStats", "Criterion", "KbResult", "Page", "QualysClient"]
